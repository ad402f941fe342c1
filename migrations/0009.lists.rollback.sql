-- Back to tasks without lists, subtasks or positions: the lists, their tombstones and the new
-- columns go (a task's list and parent with them).
-- depends: 0008.events

-- The function as 0007 shipped it.
CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.priority, NEW.tags, NEW.due_at,
        NEW.recurrence, NEW.time_zone, NEW.reminders)
       IS DISTINCT FROM (OLD.title, OLD.description, OLD.completed, OLD.priority, OLD.tags, OLD.due_at,
                         OLD.recurrence, OLD.time_zone, OLD.reminders) THEN
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

DROP INDEX trashed_tasks_user_parent_idx;
ALTER TABLE trashed_tasks DROP COLUMN position, DROP COLUMN parent_id, DROP COLUMN list_id;

DROP TRIGGER tasks_default_position ON tasks;
DROP FUNCTION tasks_default_position();
DROP INDEX tasks_user_parent_idx, tasks_user_place_position_idx;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_parent_is_not_itself,
    DROP CONSTRAINT tasks_parent_fkey,
    DROP CONSTRAINT tasks_list_fkey,
    DROP COLUMN position, DROP COLUMN parent_id, DROP COLUMN list_id;

DROP TABLE list_tombstones;
DROP TRIGGER lists_touch_updated_at ON lists;
DROP FUNCTION lists_touch_updated_at();
DROP TABLE lists;
