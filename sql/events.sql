-- The live events of one user's streams. Every statement filters by user_id = $1.

-- name: current_revision :val
-- The user's revision: what a stream announces on connect and after its process reconnected to
-- the notifications (null for a user who never wrote).
SELECT revision FROM task_counts WHERE user_id = $1;
