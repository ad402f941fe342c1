-- Back to tasks without recurrence or reminders: the rules, zones, reminders and series go.
-- depends: 0006.idempotency-keys

DROP TRIGGER task_reminders_follow_updated ON tasks;
DROP TRIGGER task_reminders_follow_inserted ON tasks;
DROP FUNCTION task_reminders_follow_task();
DROP TABLE task_reminders;

-- The function as 0004 shipped it.
CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.priority, NEW.tags, NEW.due_at)
       IS DISTINCT FROM (OLD.title, OLD.description, OLD.completed, OLD.priority, OLD.tags, OLD.due_at) THEN
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        IF NEW.revision IS NULL OR NEW.revision <= OLD.revision THEN
            NEW.revision := task_counts_next_revision(NEW.user_id);
        END IF;
    ELSE
        NEW.updated_at := OLD.updated_at;
        NEW.revision := OLD.revision;
    END IF;
    NEW.completed_at := CASE
        WHEN NOT NEW.completed THEN NULL
        WHEN OLD.completed THEN OLD.completed_at
        ELSE NEW.updated_at
    END;
    RETURN NEW;
END;
$$;

ALTER TABLE trashed_tasks
    DROP COLUMN follows, DROP COLUMN anchor_at, DROP COLUMN series_id,
    DROP COLUMN reminders, DROP COLUMN time_zone, DROP COLUMN recurrence;

DROP INDEX tasks_user_series_idx, tasks_user_follows_idx;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_reminders_need_due_at,
    DROP CONSTRAINT tasks_recurrence_needs_due_at,
    DROP COLUMN follows, DROP COLUMN anchor_at, DROP COLUMN series_id,
    DROP COLUMN reminders, DROP COLUMN time_zone, DROP COLUMN recurrence;
DROP FUNCTION task_reminders_are_valid(integer[]);
