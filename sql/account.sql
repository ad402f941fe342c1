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

-- Importing: one transaction that locks the counter (lock_counter_revision), lets the place checks
-- wait for the commit, deletes the rows the document replaces, inserts its items with the revisions
-- that follow the counter's, then checks what it left. Items come as a JSON array ($2), each row
-- of it already validated by the service (service/account/imports.py).

-- name: defer_place_checks :exec
-- A task's list and parent are checked at the commit, when every replaced row is back.
SET CONSTRAINTS tasks_list_fkey, tasks_parent_fkey DEFERRED;

-- name: task_count :val
-- How many live tasks the user has (the quota's count, kept by triggers on tasks).
SELECT coalesce((SELECT tasks FROM task_counts WHERE user_id = $1), 0);

-- name: import_clear :exec
-- The user's rows that the document's items replace: live or trashed tasks with an id of $2, lists
-- with an id of $3, and the tombstones of those ids (the feed then reports each id once, as what
-- the import makes of it). Another user's rows with the same ids are theirs: untouched.
WITH live AS (
    DELETE FROM tasks WHERE user_id = $1 AND id = any($2::uuid[])
), trashed AS (
    DELETE FROM trashed_tasks WHERE user_id = $1 AND id = any($2::uuid[])
), task_graves AS (
    DELETE FROM task_tombstones WHERE user_id = $1 AND task_id = any($2::uuid[])
), list_graves AS (
    DELETE FROM list_tombstones WHERE user_id = $1 AND list_id = any($3::uuid[])
)
DELETE FROM lists WHERE user_id = $1 AND id = any($3::uuid[]);

-- name: place_ends :many
-- The last position of each place (list, parent) of the user's live tasks: imported tasks go after it.
SELECT list_id, parent_id, max(position) AS position
FROM tasks
WHERE user_id = $1
GROUP BY list_id, parent_id;

-- name: import_lists :val
-- The document's lists ($2), the user's, with their ids and timestamps; returns how many.
WITH made AS (
    INSERT INTO lists (user_id, id, name, revision, created_at, updated_at)
    SELECT $1, item.id, item.name, item.revision, item.created_at, item.updated_at
    FROM jsonb_to_recordset($2::jsonb)
        AS item(id uuid, name text, revision bigint, created_at timestamptz, updated_at timestamptz)
    RETURNING 1
)
SELECT count(*) FROM made;

-- name: import_tasks :val
-- The document's live tasks ($2), the user's, with their ids, timestamps and completion time. A
-- recurring task keeps its series (or starts one) anchored at its due_at; it follows no occurrence.
WITH made AS (
    INSERT INTO tasks (user_id, id, title, description, completed, priority, tags, due_at, completed_at, created_at,
                       updated_at, revision, recurrence, time_zone, reminders, series_id, anchor_at, list_id,
                       parent_id, position)
    SELECT $1, item.id, item.title, item.description, item.completed, item.priority::task_priority, item.tags,
           item.due_at, item.completed_at, item.created_at, item.updated_at, item.revision, item.recurrence,
           item.time_zone, item.reminders,
           CASE WHEN item.recurrence IS NOT NULL THEN coalesce(item.series_id, gen_random_uuid()) ELSE item.series_id END,
           CASE WHEN item.recurrence IS NOT NULL THEN item.due_at END,
           item.list_id, item.parent_id, item.position
    FROM jsonb_to_recordset($2::jsonb) AS item(
        id uuid, title text, description text, completed boolean, priority text, tags text[], due_at timestamptz,
        completed_at timestamptz, created_at timestamptz, updated_at timestamptz, revision bigint, recurrence text,
        time_zone text, reminders integer[], series_id uuid, list_id uuid, parent_id uuid, position text
    )
    RETURNING 1
)
SELECT count(*) FROM made;

-- name: import_trash :val
-- The document's trashed tasks ($2), into the user's trash, deleted when the document says (never
-- later than now); returns how many.
WITH made AS (
    INSERT INTO trashed_tasks (user_id, id, title, description, completed, priority, tags, due_at, completed_at,
                               created_at, updated_at, revision, deleted_at, recurrence, time_zone, reminders,
                               series_id, anchor_at, list_id, parent_id, position)
    SELECT $1, item.id, item.title, item.description, item.completed, item.priority::task_priority, item.tags,
           item.due_at, item.completed_at, item.created_at, item.updated_at, item.revision,
           least(coalesce(item.deleted_at, now()), now()), item.recurrence, item.time_zone, item.reminders,
           CASE WHEN item.recurrence IS NOT NULL THEN coalesce(item.series_id, gen_random_uuid()) ELSE item.series_id END,
           CASE WHEN item.recurrence IS NOT NULL THEN item.due_at END,
           item.list_id, item.parent_id, item.position
    FROM jsonb_to_recordset($2::jsonb) AS item(
        id uuid, title text, description text, completed boolean, priority text, tags text[], due_at timestamptz,
        completed_at timestamptz, created_at timestamptz, updated_at timestamptz, revision bigint, recurrence text,
        time_zone text, reminders integer[], series_id uuid, list_id uuid, parent_id uuid, position text,
        deleted_at timestamptz
    )
    RETURNING 1
)
SELECT count(*) FROM made;

-- name: misplaced_tasks :many
-- After an import, the user's live tasks that break a place rule: in a list the user does not have,
-- or under a parent that is not a live top-level task of the same list. Nothing, when all is well.
SELECT task.id, task.list_id, task.parent_id,
       task.list_id IS NOT NULL AND NOT EXISTS (
           SELECT FROM lists WHERE lists.user_id = $1 AND lists.id = task.list_id
       ) AS no_list
FROM tasks AS task
WHERE task.user_id = $1
  AND ((task.list_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM lists WHERE lists.user_id = $1 AND lists.id = task.list_id))
       OR (task.parent_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM tasks AS parent
            WHERE parent.user_id = $1 AND parent.id = task.parent_id AND parent.parent_id IS NULL
              AND parent.list_id IS NOT DISTINCT FROM task.list_id)))
LIMIT 10;

-- name: list_count :val
-- How many lists the user has (MAX_LISTS_PER_USER holds after an import too).
SELECT count(*) FROM lists WHERE user_id = $1;

-- name: calendar_tasks :many
-- The user's open tasks with a due date, soonest due first: what a calendar app imports as VTODOs.
SELECT id, title, description, priority, tags, due_at, recurrence, time_zone, reminders, created_at, updated_at
FROM tasks
WHERE user_id = $1 AND NOT completed AND due_at IS NOT NULL
ORDER BY due_at, id;
