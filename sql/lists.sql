-- The user's lists. Every statement filters by user_id = $1; every write locks the user's counter
-- row (task_counts) first and stamps what it changes with the next revision, as sql/tasks.sql does.

-- name: list_lists :many
-- Every list of the user (at most MAX_LISTS_PER_USER), oldest first.
SELECT id, user_id, name, revision, created_at, updated_at
FROM lists
WHERE user_id = $1
ORDER BY created_at, id;

-- name: get_list :one
-- One list, only if it belongs to the user.
SELECT id, user_id, name, revision, created_at, updated_at
FROM lists
WHERE user_id = $1 AND id = $2;

-- name: create_list :one
-- A new list named $2, unless the user already has $3 lists (then nothing). The counter is made or
-- locked first, so concurrent creates take turns and the count holds; a name the user has already
-- (ignoring case) fails lists_user_name_idx.
WITH counter AS (
    INSERT INTO task_counts AS counter (user_id, tasks) VALUES ($1, 0)
    ON CONFLICT (user_id) DO UPDATE SET tasks = counter.tasks
    RETURNING revision
)
INSERT INTO lists (user_id, name, revision, created_at, updated_at)
SELECT $1, $2, counter.revision + 1, moment.now, moment.now
FROM counter, (SELECT clock_timestamp() AS now) AS moment
WHERE (SELECT count(*) FROM lists WHERE user_id = $1) < $3
RETURNING id, user_id, name, revision, created_at, updated_at;

-- name: rename_list :one
-- Rename one of the user's lists; the same name keeps its revision and updated_at (the trigger).
UPDATE lists
SET name = $3,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2
RETURNING id, user_id, name, revision, created_at, updated_at;

-- name: delete_list :val
-- Delete one of the user's lists, leaving a tombstone for the change feed, and move its tasks (a
-- subtask is always in its parent's list) to the trash in the same statement, each with a revision
-- of its own, all at one moment. Returns the list's id, or nothing when there was none. The
-- tasks keep their list_id in the trash: restoring one finds the list gone and puts it in the inbox.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), moment AS (
    SELECT clock_timestamp() AS now
), gone_list AS (
    DELETE FROM lists
    WHERE user_id = $1 AND id = $2 AND EXISTS (SELECT FROM counter)
    RETURNING user_id, id
), buried AS (
    INSERT INTO list_tombstones (user_id, list_id, revision, deleted_at)
    SELECT user_id, id, (SELECT revision + 1 FROM counter), moment.now
    FROM gone_list, moment
    RETURNING list_id
), gone AS (
    DELETE FROM tasks
    WHERE user_id = $1 AND list_id = $2 AND EXISTS (SELECT FROM gone_list)
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position
), trashed AS (
    INSERT INTO trashed_tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at,
                               created_at, updated_at, recurrence, time_zone, reminders, series_id, anchor_at, follows,
                               list_id, parent_id, position, revision, deleted_at)
    SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
           recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position,
           (SELECT revision + 1 FROM counter) + row_number() OVER (ORDER BY updated_at, id), moment.now
    FROM gone, moment
    RETURNING 1
)
SELECT list_id FROM buried;
