-- Every statement here touches tasks, so every one filters by user_id = $1
-- (tests/test_sql.py fails the build otherwise).

-- name: list_tasks :many
-- The user's tasks, newest first; ties broken by id so the order is stable.
SELECT id, user_id, title, description, completed, created_at, updated_at
FROM tasks
WHERE user_id = $1
ORDER BY created_at DESC, id DESC;

-- name: create_task :one
-- A new open task for the user; the database picks the id and the timestamps.
INSERT INTO tasks (user_id, title, description)
VALUES ($1, $2, $3)
RETURNING id, user_id, title, description, completed, created_at, updated_at;

-- name: get_task :one
-- One task, only if it belongs to the user.
SELECT id, user_id, title, description, completed, created_at, updated_at
FROM tasks
WHERE user_id = $1 AND id = $2;

-- name: replace_task :one
-- Replace title and description; completed keeps its value when $5 is null.
UPDATE tasks
SET title = $3, description = $4, completed = coalesce($5, completed)
WHERE user_id = $1 AND id = $2
RETURNING id, user_id, title, description, completed, created_at, updated_at;

-- name: update_task :one
-- Change only the given fields: null $3/$6 keep title/completed, false $4 keeps description.
UPDATE tasks
SET title = coalesce($3, title),
    description = CASE WHEN $4::boolean THEN $5 ELSE description END,
    completed = coalesce($6, completed)
WHERE user_id = $1 AND id = $2
RETURNING id, user_id, title, description, completed, created_at, updated_at;

-- name: toggle_task :one
-- Flip completed in one statement, so concurrent toggles never lose a flip.
UPDATE tasks
SET completed = NOT completed
WHERE user_id = $1 AND id = $2
RETURNING id, user_id, title, description, completed, created_at, updated_at;

-- name: set_task_completed :one
-- Set completed to a given value; repeating it changes nothing.
UPDATE tasks
SET completed = $3
WHERE user_id = $1 AND id = $2
RETURNING id, user_id, title, description, completed, created_at, updated_at;

-- name: delete_task :val
-- Delete one of the user's tasks; returns its id, or nothing when there was none.
DELETE FROM tasks
WHERE user_id = $1 AND id = $2
RETURNING id;
