-- Live events: every change of a user's data is announced, at commit, on one channel; a reminder
-- set for a moment already past is born fired; a reminder set wakes the schedulers.
-- depends: 0007.recurrence

-- Every write advances its user's counter in its own transaction (0004), so a trigger on the
-- counter announces every committed change, whoever wrote it: the service's statements, the
-- triggers' fallback and SQL run by hand alike. NOTIFY is delivered at commit, and not at all
-- on a rollback: nothing is announced that did not happen. The payload is "revision:user_id"
-- (a user id is at most 255 characters, far below NOTIFY's 8000 bytes).
CREATE FUNCTION task_counts_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('task_api_changes', NEW.revision || ':' || NEW.user_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_counts_announce_inserted
    AFTER INSERT ON task_counts
    FOR EACH ROW WHEN (NEW.revision > 0)
    EXECUTE FUNCTION task_counts_announce();

CREATE TRIGGER task_counts_announce_updated
    AFTER UPDATE OF revision ON task_counts
    FOR EACH ROW WHEN (NEW.revision > OLD.revision)
    EXECUTE FUNCTION task_counts_announce();

-- A reminder whose moment has passed when it is set (a task made or re-opened late) is born
-- fired: the scheduler fires what comes due, not what was already late.
CREATE OR REPLACE FUNCTION task_reminders_follow_task() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_reminders
    WHERE user_id = NEW.user_id AND task_id = NEW.id
      AND (NEW.completed OR NEW.due_at IS NULL OR NOT minutes_before = any(NEW.reminders)
           OR remind_at <> NEW.due_at - minutes_before * interval '1 minute');
    INSERT INTO task_reminders (user_id, task_id, minutes_before, remind_at, fired_at)
    SELECT NEW.user_id, NEW.id, minutes, moment.remind_at, CASE WHEN moment.remind_at <= now() THEN now() END
    FROM unnest(NEW.reminders) AS minutes
    CROSS JOIN LATERAL (SELECT NEW.due_at - minutes * interval '1 minute' AS remind_at) AS moment
    WHERE NOT NEW.completed AND NEW.due_at IS NOT NULL
    ON CONFLICT (user_id, task_id, minutes_before) DO NOTHING;
    RETURN NULL;
END;
$$;

-- A reminder to fire wakes the schedulers, which may be sleeping until a later one
-- (service/events/scheduler.py); the payload is its moment, in seconds since the epoch.
CREATE FUNCTION task_reminders_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('task_api_reminders_set', extract(epoch FROM NEW.remind_at)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_reminders_announce_inserted
    AFTER INSERT ON task_reminders
    FOR EACH ROW WHEN (NEW.fired_at IS NULL)
    EXECUTE FUNCTION task_reminders_announce();
