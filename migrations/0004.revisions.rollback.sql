-- Back to tasks without revisions: the counters keep only the task count.
-- depends: 0003.count-tasks-per-user

DROP TRIGGER task_counts_advance_updated ON tasks;
DROP FUNCTION task_counts_advance_revision();

-- The functions as 0002 and 0003 shipped them.
CREATE OR REPLACE FUNCTION task_counts_add_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (user_id, tasks)
    SELECT user_id, count(*) FROM inserted GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET tasks = task_counts.tasks + excluded.tasks;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION tasks_set_completed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.completed_at := CASE WHEN NEW.completed THEN NEW.updated_at END;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.priority, NEW.tags, NEW.due_at)
       IS DISTINCT FROM (OLD.title, OLD.description, OLD.completed, OLD.priority, OLD.tags, OLD.due_at) THEN
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    NEW.completed_at := CASE
        WHEN NOT NEW.completed THEN NULL
        WHEN OLD.completed THEN OLD.completed_at
        ELSE NEW.updated_at
    END;
    RETURN NEW;
END;
$$;

DROP FUNCTION task_counts_next_revision(text);
DROP INDEX tasks_user_revision_idx;
ALTER TABLE tasks DROP COLUMN revision;
ALTER TABLE task_counts DROP COLUMN horizon, DROP COLUMN revision;
