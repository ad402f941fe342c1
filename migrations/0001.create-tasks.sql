-- Create the tasks table, its list index and the trigger that keeps updated_at honest.
-- depends:

CREATE TABLE tasks (
    user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 255),
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200 AND btrim(title) <> ''),
    description text                 CHECK (char_length(description) <= 1000),
    completed   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- user_id leads the key: every lookup starts from it, and a future shard key
    -- (Citus wants the distribution column in every unique constraint) is already there.
    PRIMARY KEY (user_id, id)
);

-- Serves the default list order (newest first, ties by id) as one index range scan per user.
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at DESC, id DESC);

-- updated_at moves when the content changes, never on a read or a write that changes nothing,
-- and always forward, even if the server clock steps back.
CREATE FUNCTION tasks_touch_updated_at() RETURNS trigger
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

CREATE TRIGGER tasks_touch_updated_at
    BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_touch_updated_at();
