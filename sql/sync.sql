-- The change feed. Every statement filters by user_id = $1.

-- name: changes :many
-- What changed for the user after revision $2, oldest change first, at most $3 changes: tasks in
-- their latest state, and (when $2 > 0: a client starting from nothing has nothing to delete)
-- the ids of tasks trashed or purged since. Every row also carries the user's counter, its
-- revision and horizon read in the same snapshot as the changes (all nulls for a user who never
-- wrote); a page without changes is that one row. Each source is one range scan of its
-- (user_id, revision) index, merged in revision order.
WITH counter AS (
    SELECT revision, horizon FROM task_counts WHERE user_id = $1
), page AS (
    (SELECT false AS deleted, id, user_id, title, description, completed, priority, tags, due_at, completed_at,
            created_at, updated_at, revision, recurrence, time_zone, reminders, series_id
     FROM tasks
     WHERE user_id = $1 AND revision > $2
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT true, id, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, revision,
            NULL, NULL, NULL, NULL
     FROM trashed_tasks
     WHERE user_id = $1 AND revision > $2 AND $2 > 0
     ORDER BY revision
     LIMIT $3)
    UNION ALL
    (SELECT true, task_id, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, revision,
            NULL, NULL, NULL, NULL
     FROM task_tombstones
     WHERE user_id = $1 AND revision > $2 AND $2 > 0
     ORDER BY revision
     LIMIT $3)
    ORDER BY revision
    LIMIT $3
)
SELECT counter.revision AS latest, counter.horizon, page.deleted,
       page.id, page.user_id, page.title, page.description, page.completed, page.priority, page.tags, page.due_at,
       page.completed_at, page.created_at, page.updated_at, page.revision, page.recurrence, page.time_zone,
       page.reminders, page.series_id
FROM (VALUES (true)) AS always
LEFT JOIN counter ON true
LEFT JOIN page ON true
ORDER BY page.revision;
