-- The user's tags, read from their tasks; every statement filters by user_id = $1.

-- name: list_tags :many
-- The user's tags with how many tasks carry each, most used first; with $2, only the tasks of
-- that list (the nil uuid: the inbox).
SELECT tag, count(*) AS tasks
FROM tasks, unnest(tags) AS tag
WHERE tasks.user_id = $1
  AND ($2::uuid IS NULL OR coalesce(tasks.list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $2)
GROUP BY tag
ORDER BY count(*) DESC, tag;
