-- The user's tags, read from their tasks; every statement filters by user_id = $1.

-- name: list_tags :many
-- The user's tags with how many tasks carry each, most used first.
SELECT tag, count(*) AS tasks
FROM tasks, unnest(tags) AS tag
WHERE tasks.user_id = $1
GROUP BY tag
ORDER BY count(*) DESC, tag;
