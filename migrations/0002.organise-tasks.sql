-- Priorities, tags, due dates, completion time and a search vector, with the indexes that
-- keep every list order an index range scan starting from user_id.
-- depends: 0001.create-tasks

CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');  -- sorts in this order

-- A tag is trimmed, lower-case and 1 to 32 characters; a task has at most 10, each once.
CREATE FUNCTION task_tags_are_valid(tags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cardinality(tags) <= 10
       AND cardinality(tags) = (SELECT count(DISTINCT tag) FROM unnest(tags) AS tag)
       AND coalesce((SELECT bool_and(char_length(tag) BETWEEN 1 AND 32 AND tag = lower(btrim(tag)))
                     FROM unnest(tags) AS tag), true)
$$;

ALTER TABLE tasks
    ADD COLUMN priority     task_priority NOT NULL DEFAULT 'medium',
    ADD COLUMN tags         text[]        NOT NULL DEFAULT '{}' CHECK (task_tags_are_valid(tags)),
    ADD COLUMN due_at       timestamptz,
    ADD COLUMN completed_at timestamptz,
    -- Words of the title and description, lower-cased and unstemmed ('simple'), so a search for
    -- the start of any word finds it in any language.
    ADD COLUMN search       tsvector      NOT NULL
        GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || coalesce(description, ''))) STORED;

-- Tasks completed before this migration were completed at the latest when they last changed.
UPDATE tasks SET completed_at = updated_at WHERE completed;

ALTER TABLE tasks
    ADD CONSTRAINT tasks_completed_at_iff_completed CHECK (completed = (completed_at IS NOT NULL));

-- One index per list order; each also serves the reverse order, scanned backwards.
-- A task without a due date sorts as if due at infinity.
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_due_idx ON tasks (user_id, (coalesce(due_at, 'infinity')), id);
CREATE INDEX tasks_user_priority_idx ON tasks (user_id, priority, created_at, id);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, lower(title), id);

-- updated_at now also moves for the new fields; completed_at follows completed.
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

-- A task is created open; completed_at is the database's to set.
CREATE FUNCTION tasks_set_completed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.completed_at := CASE WHEN NEW.completed THEN NEW.updated_at END;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tasks_set_completed_at
    BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_set_completed_at();
