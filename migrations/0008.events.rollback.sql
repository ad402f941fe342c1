-- Back to silent writes: no announcements, and reminders set late are no longer born fired.
-- depends: 0007.recurrence

DROP TRIGGER task_reminders_announce_inserted ON task_reminders;
DROP FUNCTION task_reminders_announce();
DROP TRIGGER task_counts_announce_updated ON task_counts;
DROP TRIGGER task_counts_announce_inserted ON task_counts;
DROP FUNCTION task_counts_announce();

-- The function as 0007 shipped it.
CREATE OR REPLACE FUNCTION task_reminders_follow_task() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_reminders
    WHERE user_id = NEW.user_id AND task_id = NEW.id
      AND (NEW.completed OR NEW.due_at IS NULL OR NOT minutes_before = any(NEW.reminders)
           OR remind_at <> NEW.due_at - minutes_before * interval '1 minute');
    INSERT INTO task_reminders (user_id, task_id, minutes_before, remind_at)
    SELECT NEW.user_id, NEW.id, minutes, NEW.due_at - minutes * interval '1 minute'
    FROM unnest(NEW.reminders) AS minutes
    WHERE NOT NEW.completed AND NEW.due_at IS NOT NULL
    ON CONFLICT (user_id, task_id, minutes_before) DO NOTHING;
    RETURN NULL;
END;
$$;
