-- Recurring tasks and reminders: a task's rule, wall-clock zone and reminders, the series its
-- occurrences share, and the reminders table that answers "what is due to remind" by index range.
-- depends: 0006.idempotency-keys

-- Reminders are up to 5 distinct whole minutes before due_at, 0 to 40320 (four weeks).
CREATE FUNCTION task_reminders_are_valid(reminders integer[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cardinality(reminders) <= 5
       AND cardinality(reminders) = (SELECT count(DISTINCT minutes) FROM unnest(reminders) AS minutes)
       AND coalesce((SELECT bool_and(minutes BETWEEN 0 AND 40320) FROM unnest(reminders) AS minutes), true)
$$;

ALTER TABLE tasks
    -- An RFC 5545 RRULE value, validated and normalised by the service (service/tasks/recurrence.py).
    ADD COLUMN recurrence text    CHECK (char_length(recurrence) BETWEEN 1 AND 200),
    -- The IANA zone whose wall clock the rule follows.
    ADD COLUMN time_zone  text    NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    ADD COLUMN reminders  integer[] NOT NULL DEFAULT '{}' CHECK (task_reminders_are_valid(reminders)),
    -- Shared by every occurrence of a series; its DTSTART, where the rule's INTERVAL, COUNT and
    -- UNTIL count from; and the occurrence whose completion made this one.
    ADD COLUMN series_id  uuid,
    ADD COLUMN anchor_at  timestamptz,
    ADD COLUMN follows    uuid,
    ADD CONSTRAINT tasks_recurrence_needs_due_at
        CHECK (recurrence IS NULL OR (due_at IS NOT NULL AND series_id IS NOT NULL AND anchor_at IS NOT NULL)),
    ADD CONSTRAINT tasks_reminders_need_due_at CHECK (reminders = '{}' OR due_at IS NOT NULL);

-- One next occurrence per completed occurrence, whatever two clients do at once, and however
-- often it is re-opened and completed again.
CREATE UNIQUE INDEX tasks_user_follows_idx ON tasks (user_id, follows);
-- The series filter.
CREATE INDEX tasks_user_series_idx ON tasks (user_id, series_id, created_at, id) WHERE series_id IS NOT NULL;

ALTER TABLE trashed_tasks
    ADD COLUMN recurrence text,
    ADD COLUMN time_zone  text      NOT NULL DEFAULT 'UTC',
    ADD COLUMN reminders  integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN series_id  uuid,
    ADD COLUMN anchor_at  timestamptz,
    ADD COLUMN follows    uuid;

-- The content a change of moves updated_at and the revision now includes the new fields.
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

-- Each reminder of an open task with a due date, at its moment: what GET /reminders reads by a
-- range of its index, and what the live events will fire, once (fired_at). A row goes with its
-- task (trashed, completed, its due date or reminders changed); one whose moment is unchanged
-- stays, fired or not.
CREATE TABLE task_reminders (
    user_id        text        NOT NULL,
    task_id        uuid        NOT NULL,
    minutes_before integer     NOT NULL,
    remind_at      timestamptz NOT NULL,
    fired_at       timestamptz,
    PRIMARY KEY (user_id, task_id, minutes_before),
    FOREIGN KEY (user_id, task_id) REFERENCES tasks (user_id, id) ON DELETE CASCADE
);

CREATE INDEX task_reminders_user_time_idx ON task_reminders (user_id, remind_at);
-- What a scheduler finds next, across users.
CREATE INDEX task_reminders_unfired_idx ON task_reminders (remind_at) WHERE fired_at IS NULL;

CREATE FUNCTION task_reminders_follow_task() RETURNS trigger
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

CREATE TRIGGER task_reminders_follow_inserted
    AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.reminders <> '{}')
    EXECUTE FUNCTION task_reminders_follow_task();

CREATE TRIGGER task_reminders_follow_updated
    AFTER UPDATE OF due_at, reminders, completed ON tasks
    FOR EACH ROW WHEN ((OLD.reminders <> '{}' OR NEW.reminders <> '{}')
                       AND (OLD.due_at, OLD.reminders, OLD.completed) IS DISTINCT FROM (NEW.due_at, NEW.reminders, NEW.completed))
    EXECUTE FUNCTION task_reminders_follow_task();
