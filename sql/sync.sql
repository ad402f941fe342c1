-- The change feed. Every statement filters by user_id = $1.

-- name: changes :many
-- What changed for the user after revision $2, oldest change first, at most $3 changes: tasks and
-- lists in their latest state, and (when $2 > 0: a client starting from nothing has nothing to
-- delete) the ids of tasks trashed or purged and of lists deleted since. Each row says which of
-- these it is (kind); a list's name comes in the title column. Every row also carries the user's
-- counter, its revision and horizon read in the same snapshot as the changes (all nulls for a user
-- who never wrote); a page without changes is that one row. Each source is one range scan of its
-- (user_id, revision) index, merged in revision order; a task's subtask counts are read for the
-- page's tasks only.
WITH counter AS (
    SELECT revision, horizon FROM task_counts WHERE user_id = $1
), page AS (
    (SELECT 'task' AS kind, id, user_id, title, description, completed, priority, tags, due_at, completed_at,
            created_at, updated_at, revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position
     FROM tasks
     WHERE user_id = $1 AND revision > $2
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT 'deleted_task', id, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, revision,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM trashed_tasks
     WHERE user_id = $1 AND revision > $2 AND $2 > 0
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT 'deleted_task', task_id, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, revision,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM task_tombstones
     WHERE user_id = $1 AND revision > $2 AND $2 > 0
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT 'list', id, user_id, name, NULL, NULL, NULL, NULL, NULL, NULL, created_at, updated_at, revision,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM lists
     WHERE user_id = $1 AND revision > $2
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT 'deleted_list', list_id, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, revision,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM list_tombstones
     WHERE user_id = $1 AND revision > $2 AND $2 > 0
     ORDER BY revision
     LIMIT $3)
    ORDER BY revision
    LIMIT $3
)
SELECT counter.revision AS latest, counter.horizon, page.kind,
       page.id, page.user_id, page.title, page.description, page.completed, page.priority, page.tags, page.due_at,
       page.completed_at, page.created_at, page.updated_at, page.revision, page.recurrence, page.time_zone,
       page.reminders, page.series_id, page.list_id, page.parent_id, page.position,
       CASE WHEN page.kind = 'task' THEN (
           SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = page.id
       ) END AS subtasks,
       CASE WHEN page.kind = 'task' THEN (
           SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = page.id AND NOT sub.completed
       ) END AS subtasks_open
FROM (VALUES (true)) AS always
LEFT JOIN counter ON true
LEFT JOIN page ON true
ORDER BY page.revision;
