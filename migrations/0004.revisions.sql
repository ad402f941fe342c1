-- Per-user revisions: every change to a user's tasks takes the next number of the user's counter
-- and stamps the changed task with it, so a client can ask for everything after the number it saw.
-- depends: 0003.count-tasks-per-user

-- task_counts becomes the user's counters: the task count (the quota), the revision, the horizon.
--
-- Why a counter row per user, and not a sequence or a clock: a transaction that takes a number
-- from a sequence (or reads the clock) and commits a moment later becomes visible after a
-- transaction that took a later number and committed first. A client that synced in between saw
-- the later number and would skip the earlier change for ever. Every write locks its user's counter
-- row before it takes a number and holds the lock until it commits, so one user's revisions are
-- handed out in commit order, and densely: a reader that sees revision n has seen every change up
-- to n. Writers of different users never wait for each other.
ALTER TABLE task_counts
    ADD COLUMN revision bigint NOT NULL DEFAULT 0 CHECK (revision >= 0),
    -- Changes numbered up to the horizon may be forgotten (their tombstones purged): a client that
    -- last synced before it must start again from nothing (410).
    ADD COLUMN horizon  bigint NOT NULL DEFAULT 0 CHECK (horizon >= 0 AND horizon <= revision);

ALTER TABLE tasks ADD COLUMN revision bigint;

-- The tasks there already are numbered per user in the order they last changed.
UPDATE tasks
SET revision = numbered.revision
FROM (
    SELECT user_id, id, row_number() OVER (PARTITION BY user_id ORDER BY updated_at, id) AS revision
    FROM tasks
) AS numbered
WHERE tasks.user_id = numbered.user_id AND tasks.id = numbered.id;

UPDATE task_counts
SET revision = coalesce((SELECT max(revision) FROM tasks WHERE tasks.user_id = task_counts.user_id), 0);

ALTER TABLE tasks ALTER COLUMN revision SET NOT NULL;

-- Serves the change feed as one range scan per page; unique, so no two changes share a number.
CREATE UNIQUE INDEX tasks_user_revision_idx ON tasks (user_id, revision);

-- The next revision of a user, for a write that did not take one itself: any SQL run by hand on
-- tasks stays visible to the change feed. The service's statements take theirs from the counter
-- they lock first and stamp a whole statement's rows at once (sql/tasks.sql); this takes one
-- number per row, and locks the counter after the task row, so it is meant for a few rows at a time.
CREATE FUNCTION task_counts_next_revision(owner text) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO task_counts AS counter (user_id, tasks, revision) VALUES (owner, 0, 1)
    ON CONFLICT (user_id) DO UPDATE SET revision = counter.revision + 1
    RETURNING revision
$$;

-- A change to a task's content gets a new revision, and a write that changes nothing keeps the
-- old one (as it keeps updated_at).
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

-- A task inserted completed (a restore, an import) keeps the completion time it brings; one
-- inserted without a revision takes the next.
CREATE OR REPLACE FUNCTION tasks_set_completed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.completed_at := CASE WHEN NEW.completed THEN coalesce(NEW.completed_at, NEW.updated_at) END;
    IF NEW.revision IS NULL THEN
        NEW.revision := task_counts_next_revision(NEW.user_id);
    END IF;
    RETURN NEW;
END;
$$;

-- The counter follows the highest revision a statement stamped, in the statement's transaction.
CREATE OR REPLACE FUNCTION task_counts_add_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (user_id, tasks, revision)
    SELECT user_id, count(*), max(revision) FROM inserted GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE
    SET tasks = task_counts.tasks + excluded.tasks,
        revision = greatest(task_counts.revision, excluded.revision);
    RETURN NULL;
END;
$$;

CREATE FUNCTION task_counts_advance_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts
    SET revision = stamped.revision
    FROM (SELECT user_id, max(revision) AS revision FROM changed GROUP BY user_id) AS stamped
    WHERE task_counts.user_id = stamped.user_id AND task_counts.revision < stamped.revision;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_counts_advance_updated
    AFTER UPDATE ON tasks REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_advance_revision();
