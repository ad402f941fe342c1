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
