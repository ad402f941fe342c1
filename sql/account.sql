-- A user's whole account: erasing it (and, below, exporting and importing it). Every statement
-- filters by user_id = $1.

-- name: lock_counter_revision :val
-- The user's counter row, made if they never wrote, and locked for the rest of the transaction, as
-- every write locks it first (sql/tasks.sql); returns their revision.
INSERT INTO task_counts AS counter (user_id, tasks) VALUES ($1, 0)
ON CONFLICT (user_id) DO UPDATE SET tasks = counter.tasks
RETURNING revision;

-- name: erase_user_data :exec
-- Every row of the user in every table of users' data but their counter: tasks and their
-- reminders, the trash, the tombstones, lists, idempotency keys. A table added later belongs here
-- too: tests/account/test_erase.py enumerates them all from information_schema.
WITH reminders AS (
    DELETE FROM task_reminders WHERE user_id = $1
), live AS (
    DELETE FROM tasks WHERE user_id = $1
), trashed AS (
    DELETE FROM trashed_tasks WHERE user_id = $1
), task_graves AS (
    DELETE FROM task_tombstones WHERE user_id = $1
), list_graves AS (
    DELETE FROM list_tombstones WHERE user_id = $1
), keys AS (
    DELETE FROM idempotency_keys WHERE user_id = $1
)
DELETE FROM lists WHERE user_id = $1;

-- name: close_erase :val
-- After an erase, the counter advances, and its horizon with it: every revision a device may hold
-- is now older than what the service remembers, so /changes answers it 410 and the device drops
-- its copy. Returns the new revision.
UPDATE task_counts
SET revision = revision + 1, horizon = revision + 1, tasks = 0
WHERE user_id = $1
RETURNING revision;

-- Exporting: three reads in one REPEATABLE READ snapshot (service.db.pool.Database.snapshot), so
-- the document is the user's data at one moment. The tasks and the trash are read through a
-- cursor, a few hundred rows at a time, and written out as they come.

-- name: export_lists :many
-- Every list of the user (at most MAX_LISTS_PER_USER), oldest first, as GET /lists shows them.
SELECT id, user_id, name, revision, created_at, updated_at
FROM lists
WHERE user_id = $1
ORDER BY created_at, id;

-- name: export_tasks :many
-- Every live task of the user as GET /tasks shows it, in the user's own order place by place (a
-- range scan of tasks_user_place_position_idx): the inbox, then each list; in each, the top-level
-- tasks, then each parent's subtasks. An import that puts each task last in its place, in the
-- document's order, keeps that order.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid),
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid),
         position;

-- name: export_trash :many
-- Every trashed task of the user as GET /trash shows it, the latest deleted first.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open, deleted_at
FROM trashed_tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM trashed_tasks AS sub
    WHERE sub.user_id = trashed_tasks.user_id AND sub.parent_id = trashed_tasks.id
      AND sub.deleted_at = trashed_tasks.deleted_at
) AS counts
WHERE user_id = $1
ORDER BY deleted_at DESC, id DESC;
