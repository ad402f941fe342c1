-- Lists, one level of subtasks and the user's own order: a lists table with tombstones for the
-- change feed, and each task's list, parent and position.
-- depends: 0008.events

-- A user's list. Its revision comes from the user's counter (task_counts), as a task's does, so
-- the change feed orders lists and tasks on one line.
CREATE TABLE lists (
    user_id    text        NOT NULL,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100 AND btrim(name) = name),
    revision   bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, id)
);

-- Names are unique per user ignoring case (a second "Groceries" is a 409).
CREATE UNIQUE INDEX lists_user_name_idx ON lists (user_id, lower(name));
CREATE UNIQUE INDEX lists_user_revision_idx ON lists (user_id, revision);
CREATE INDEX lists_user_created_idx ON lists (user_id, created_at, id);

-- A deleted list: that it was deleted, at which revision and when, for the change feed's
-- deleted_lists, until SYNC_RETENTION_DAYS have passed.
CREATE TABLE list_tombstones (
    user_id    text        NOT NULL,
    list_id    uuid        NOT NULL,
    revision   bigint      NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, list_id)
);

CREATE UNIQUE INDEX list_tombstones_user_revision_idx ON list_tombstones (user_id, revision);
CREATE INDEX list_tombstones_deleted_idx ON list_tombstones (deleted_at);

-- A list's name changes its updated_at and revision; a write that changes nothing keeps both.
CREATE FUNCTION lists_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        IF NEW.revision IS NULL OR NEW.revision <= OLD.revision THEN
            NEW.revision := task_counts_next_revision(NEW.user_id);
        END IF;
    ELSE
        NEW.updated_at := OLD.updated_at;
        NEW.revision := OLD.revision;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER lists_touch_updated_at
    BEFORE UPDATE ON lists
    FOR EACH ROW EXECUTE FUNCTION lists_touch_updated_at();

-- The counter follows the highest revision a statement stamped, as for tasks (0004).
CREATE TRIGGER task_counts_advance_lists_inserted
    AFTER INSERT ON lists REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_advance_revision();
CREATE TRIGGER task_counts_advance_lists_updated
    AFTER UPDATE ON lists REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_advance_revision();
CREATE TRIGGER task_counts_advance_lists_buried
    AFTER INSERT ON list_tombstones REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_advance_revision();

-- position: a fractional-indexing key (service/tasks/positions.py), compared byte by byte (the C
-- collation), unique among the tasks of one list (null: the inbox) under one parent (null: top
-- level). The tasks there already go in creation order: 'a' then a base-62 count of 4 digits, the
-- key format's integers of 5 characters, enough for 14 million tasks a user.
ALTER TABLE tasks
    ADD COLUMN list_id   uuid,
    ADD COLUMN parent_id uuid,
    ADD COLUMN position  text COLLATE "C",
    ADD CONSTRAINT tasks_list_fkey FOREIGN KEY (user_id, list_id) REFERENCES lists (user_id, id),
    ADD CONSTRAINT tasks_parent_fkey FOREIGN KEY (user_id, parent_id) REFERENCES tasks (user_id, id),
    ADD CONSTRAINT tasks_parent_is_not_itself CHECK (parent_id <> id);

CREATE FUNCTION position_base62(n bigint, digits integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                             (floor(n / power(62::numeric, digits - place))::bigint % 62 + 1)::integer, 1),
                      '' ORDER BY place)
    FROM generate_series(1, digits) AS place
$$;

UPDATE tasks
SET position = 'd' || position_base62(numbered.n, 4)
FROM (SELECT user_id, id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS n FROM tasks) AS numbered
WHERE tasks.user_id = numbered.user_id AND tasks.id = numbered.id;

DROP FUNCTION position_base62(bigint, integer);

ALTER TABLE tasks ALTER COLUMN position SET NOT NULL;

-- A task inserted without a position (by hand, or by a bulk load) gets one from its id: unique,
-- whatever else the statement inserts, near the start of its place. The service always gives one.
CREATE FUNCTION tasks_default_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.position := 'a0' || replace(NEW.id::text, '-', '') || 'V';
    RETURN NEW;
END;
$$;

CREATE TRIGGER tasks_default_position
    BEFORE INSERT ON tasks
    FOR EACH ROW WHEN (NEW.position IS NULL)
    EXECUTE FUNCTION tasks_default_position();

-- One position per place (user, list, parent), so two moves can never tie: a list or parent that
-- is null counts as the nil uuid, which no list or task has. The same index serves sort=position
-- and the list_id filter as one range scan: top-level tasks first (the nil parent), then each
-- parent's subtasks.
CREATE UNIQUE INDEX tasks_user_place_position_idx ON tasks (
    user_id,
    (coalesce(list_id, '00000000-0000-0000-0000-000000000000')),
    (coalesce(parent_id, '00000000-0000-0000-0000-000000000000')),
    position
);
-- A task's subtasks: their counts, the parent_id filter, and the parent_id foreign key's checks.
CREATE INDEX tasks_user_parent_idx ON tasks (user_id, parent_id) INCLUDE (completed) WHERE parent_id IS NOT NULL;

-- A trashed task keeps its place; one put there by hand without a position gets the first key,
-- and a restore finds it another if that is taken.
ALTER TABLE trashed_tasks
    ADD COLUMN list_id   uuid,
    ADD COLUMN parent_id uuid,
    ADD COLUMN position  text COLLATE "C" NOT NULL DEFAULT 'a0';
-- The subtasks trashed with a task, which come back with it.
CREATE INDEX trashed_tasks_user_parent_idx ON trashed_tasks (user_id, parent_id) WHERE parent_id IS NOT NULL;

-- A move (list, parent, position) changes updated_at and the revision, as a change of content does.
CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.priority, NEW.tags, NEW.due_at,
        NEW.recurrence, NEW.time_zone, NEW.reminders, NEW.list_id, NEW.parent_id, NEW.position)
       IS DISTINCT FROM (OLD.title, OLD.description, OLD.completed, OLD.priority, OLD.tags, OLD.due_at,
                         OLD.recurrence, OLD.time_zone, OLD.reminders, OLD.list_id, OLD.parent_id, OLD.position) THEN
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
