-- The trash: tasks deleted in the last TRASH_RETENTION_DAYS, restorable until purged. Every
-- statement filters by user_id = $1; those of the purge job, which works for every user, are in
-- sql/sync.sql.

-- name: list_trash :many
-- The first page of the user's trashed tasks, the latest deleted first: a range scan of
-- trashed_tasks_user_deleted_idx. A task's subtask counts are those of the subtasks trashed with
-- it, which come back when it is restored.
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
ORDER BY deleted_at DESC, id DESC
LIMIT $2;

-- name: list_trash_after :many
-- The next page, after the last task seen (its deleted_at $2 and id $3).
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
WHERE user_id = $1 AND (deleted_at, id) < ($2, $3)
ORDER BY deleted_at DESC, id DESC
LIMIT $4;

-- name: restore_task :one
-- Put a trashed task back among the user's tasks, with the subtasks trashed with it (at the same
-- moment), each with a revision of its own; unless that takes the user past $3 tasks (then
-- nothing, as for a task not in the trash). The counter is locked first, as by every write
-- (sql/tasks.sql). The task goes back to its list if the user still has it, else to the inbox;
-- under its parent if that is live there and no subtask, else to the top; at its old position if
-- that is free there, else last (the last key with a digit added: a rare case, so a key one
-- character longer than need be). Its subtasks follow it and keep their positions under it.
WITH counter AS (
    SELECT tasks, revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), top AS (
    SELECT trashed.id, trashed.deleted_at, trashed.parent_id, trashed.position,
           CASE WHEN EXISTS (SELECT FROM lists WHERE user_id = $1 AND id = trashed.list_id) THEN trashed.list_id END
               AS list_id
    FROM trashed_tasks AS trashed
    WHERE trashed.user_id = $1 AND trashed.id = $2
), placed AS (
    SELECT top.id, top.deleted_at, top.list_id, top.position,
           CASE WHEN EXISTS (
               SELECT FROM tasks AS parent
               WHERE parent.user_id = $1 AND parent.id = top.parent_id AND parent.parent_id IS NULL
                 AND parent.list_id IS NOT DISTINCT FROM top.list_id
           ) THEN top.parent_id END AS parent_id
    FROM top
), spot AS (
    SELECT placed.id, placed.deleted_at, placed.list_id, placed.parent_id,
           CASE WHEN EXISTS (
               SELECT FROM tasks AS taken
               WHERE taken.user_id = $1 AND taken.position = placed.position
                 AND coalesce(taken.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = coalesce(placed.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 AND coalesce(taken.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = coalesce(placed.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
           ) THEN (
               SELECT max(last.position) || 'V'
               FROM tasks AS last
               WHERE last.user_id = $1
                 AND coalesce(last.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = coalesce(placed.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 AND coalesce(last.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = coalesce(placed.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
           ) ELSE placed.position END AS position
    FROM placed
), picked AS (
    SELECT spot.id FROM spot
    UNION ALL
    SELECT sub.id
    FROM spot JOIN trashed_tasks AS sub ON sub.parent_id = spot.id AND sub.deleted_at = spot.deleted_at
    WHERE sub.user_id = $1
), back AS (
    DELETE FROM trashed_tasks
    WHERE user_id = $1 AND id IN (SELECT id FROM picked)
      AND (SELECT tasks + (SELECT count(*) FROM picked) <= $3 FROM counter)
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              recurrence, time_zone, reminders, series_id, anchor_at, follows, parent_id, position
), restored AS (
    INSERT INTO tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at,
                       updated_at, recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id,
                       position, revision)
    SELECT back.id, back.user_id, back.title, back.description, back.completed, back.priority, back.tags, back.due_at,
           back.completed_at, back.created_at, back.updated_at, back.recurrence, back.time_zone, back.reminders,
           back.series_id, back.anchor_at,
           -- A task that followed an occurrence another task now follows is no longer its next.
           CASE WHEN NOT EXISTS (SELECT FROM tasks WHERE user_id = $1 AND follows = back.follows) THEN back.follows END,
           spot.list_id,
           CASE WHEN back.id = $2 THEN spot.parent_id ELSE back.parent_id END,
           CASE WHEN back.id = $2 THEN spot.position ELSE back.position END,
           (SELECT revision FROM counter) + row_number() OVER (ORDER BY back.id <> $2, back.id)
    FROM back, spot
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position
)
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       (SELECT count(*) FROM restored AS sub WHERE sub.parent_id = $2) AS subtasks,
       (SELECT count(*) FROM restored AS sub WHERE sub.parent_id = $2 AND NOT sub.completed) AS subtasks_open
FROM restored
WHERE id = $2;

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
