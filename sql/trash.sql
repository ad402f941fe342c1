-- The trash: tasks deleted in the last TRASH_RETENTION_DAYS, restorable until purged. Every
-- statement filters by user_id = $1; those of the purge job, which works for every user, are in
-- sql/sync.sql.

-- name: list_trash :many
-- The first page of the user's trashed tasks, the latest deleted first: a range scan of
-- trashed_tasks_user_deleted_idx.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, deleted_at
FROM trashed_tasks
WHERE user_id = $1
ORDER BY deleted_at DESC, id DESC
LIMIT $2;

-- name: list_trash_after :many
-- The next page, after the last task seen (its deleted_at $2 and id $3).
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, deleted_at
FROM trashed_tasks
WHERE user_id = $1 AND (deleted_at, id) < ($2, $3)
ORDER BY deleted_at DESC, id DESC
LIMIT $4;

-- name: restore_task :one
-- Put a trashed task back among the user's tasks with the next revision, unless they already have
-- $3 tasks (then nothing, as for a task not in the trash). The counter is locked first, as by
-- every write (sql/tasks.sql).
WITH counter AS (
    SELECT tasks, revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), back AS (
    DELETE FROM trashed_tasks
    WHERE user_id = $1 AND id = $2 AND (SELECT tasks < $3 FROM counter)
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              recurrence, time_zone, reminders, series_id, anchor_at, follows
)
INSERT INTO tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at,
                   updated_at, recurrence, time_zone, reminders, series_id, anchor_at, follows, revision)
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       recurrence, time_zone, reminders, series_id, anchor_at,
       -- A task that followed an occurrence another task now follows is no longer its next.
       CASE WHEN NOT EXISTS (SELECT FROM tasks WHERE user_id = $1 AND follows = back.follows) THEN follows END,
       (SELECT revision + 1 FROM counter)
FROM back
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id;

-- name: in_trash :val
-- Whether the user's trash holds the task: tells a restore refused by the quota from a missing task.
SELECT EXISTS (SELECT FROM trashed_tasks WHERE user_id = $1 AND id = $2);

-- Purging keeps a tombstone with the deletion's revision and time: a client that has not synced
-- since the task was trashed still learns it is gone. Nothing changes for a client that has, so
-- the revision does not advance. The counter is locked first all the same, as by every write
-- (sql/tasks.sql): a user's writes then always take their locks in one order, where a transaction
-- holding a trashed task could otherwise wait for one holding the counter, and that one for it.

-- name: purge_trashed_task :val
-- Delete one of the user's trashed tasks for good; returns its id, or nothing when there was none.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), gone AS (
    DELETE FROM trashed_tasks
    WHERE user_id = $1 AND id = $2 AND EXISTS (SELECT FROM counter)
    RETURNING user_id, id, revision, deleted_at
)
INSERT INTO task_tombstones (user_id, task_id, revision, deleted_at)
SELECT user_id, id, revision, deleted_at
FROM gone
RETURNING task_id;

-- name: empty_trash :val
-- Delete every trashed task of the user for good; returns how many went.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), gone AS (
    DELETE FROM trashed_tasks
    WHERE user_id = $1 AND EXISTS (SELECT FROM counter)
    RETURNING user_id, id, revision, deleted_at
), buried AS (
    INSERT INTO task_tombstones (user_id, task_id, revision, deleted_at)
    SELECT user_id, id, revision, deleted_at
    FROM gone
    RETURNING 1
)
SELECT count(*) FROM buried;
