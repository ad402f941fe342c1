-- Back to the first schema: the new columns, indexes and types go; every original column stays.
-- depends: 0001.create-tasks

DROP TRIGGER tasks_set_completed_at ON tasks;
DROP FUNCTION tasks_set_completed_at();

-- The first migration's trigger function, as it shipped.
CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed) IS DISTINCT FROM (OLD.title, OLD.description, OLD.completed) THEN
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END;
$$;

DROP INDEX tasks_user_updated_idx, tasks_user_due_idx, tasks_user_priority_idx, tasks_user_title_idx;

ALTER TABLE tasks
    DROP CONSTRAINT tasks_completed_at_iff_completed,
    DROP COLUMN search,
    DROP COLUMN completed_at,
    DROP COLUMN due_at,
    DROP COLUMN tags,
    DROP COLUMN priority;

DROP FUNCTION task_tags_are_valid(text[]);
DROP TYPE task_priority;
