-- The purge job's statements: each works across users, in batches of $2 rows it locks with
-- FOR UPDATE SKIP LOCKED, so instances purging at once share the work and none waits on a row a
-- request (or another instance) holds. tests/db/test_sql.py holds this file to that.

-- name: purge_expired_trash :val
-- Delete up to $2 tasks trashed before $1 for good, each leaving a tombstone with its deletion's
-- revision and time; returns how many went.
WITH expired AS (
    SELECT user_id, id
    FROM trashed_tasks
    WHERE deleted_at < $1
    ORDER BY deleted_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM trashed_tasks
    USING expired
    WHERE trashed_tasks.user_id = expired.user_id AND trashed_tasks.id = expired.id
    RETURNING trashed_tasks.user_id, trashed_tasks.id, trashed_tasks.revision, trashed_tasks.deleted_at
), buried AS (
    INSERT INTO task_tombstones (user_id, task_id, revision, deleted_at)
    SELECT user_id, id, revision, deleted_at
    FROM gone
    RETURNING 1
)
SELECT count(*) FROM buried;

-- name: purge_expired_tombstones :val
-- Forget up to $2 deletions made before $1, raising each user's horizon past them, so a client
-- that last synced before one gets 410 rather than keeping a task that is gone. A batch takes only
-- tombstones of users whose counter it can lock, and holds those counters: the purge never waits
-- on a user's write, a user whose write holds their counter does not keep the batch from filling
-- with other users' tombstones, and instances purging at once work on different users. The counter
-- comes first in FROM, so it is locked first: a tombstone whose counter is held elsewhere is passed
-- over without being locked, and one deleted meanwhile by another instance is passed over too.
-- Returns how many went.
WITH expired AS (
    SELECT task_tombstones.user_id, task_tombstones.task_id
    FROM task_counts
    JOIN task_tombstones ON task_tombstones.user_id = task_counts.user_id
    WHERE task_tombstones.deleted_at < $1
    ORDER BY task_tombstones.deleted_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM task_tombstones
    USING expired
    WHERE task_tombstones.user_id = expired.user_id AND task_tombstones.task_id = expired.task_id
    RETURNING task_tombstones.user_id, task_tombstones.revision
), raised AS (
    UPDATE task_counts
    SET horizon = greatest(horizon, forgotten.revision)
    FROM (SELECT user_id, max(revision) AS revision FROM gone GROUP BY user_id) AS forgotten
    WHERE task_counts.user_id = forgotten.user_id
)
SELECT count(*) FROM gone;

-- name: purge_expired_list_tombstones :val
-- Forget up to $2 list deletions made before $1, raising each user's horizon past them, exactly as
-- purge_expired_tombstones does for tasks (the counter locked first, skipped when held). Returns
-- how many went.
WITH expired AS (
    SELECT list_tombstones.user_id, list_tombstones.list_id
    FROM task_counts
    JOIN list_tombstones ON list_tombstones.user_id = task_counts.user_id
    WHERE list_tombstones.deleted_at < $1
    ORDER BY list_tombstones.deleted_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM list_tombstones
    USING expired
    WHERE list_tombstones.user_id = expired.user_id AND list_tombstones.list_id = expired.list_id
    RETURNING list_tombstones.user_id, list_tombstones.revision
), raised AS (
    UPDATE task_counts
    SET horizon = greatest(horizon, forgotten.revision)
    FROM (SELECT user_id, max(revision) AS revision FROM gone GROUP BY user_id) AS forgotten
    WHERE task_counts.user_id = forgotten.user_id
)
SELECT count(*) FROM gone;

-- name: purge_expired_idempotency_keys :val
-- Delete at most $2 keys older than $1, oldest first, skipping rows a request has locked (it is
-- replacing them), so concurrent purges share the work and never wait; returns how many went.
WITH expired AS (
    SELECT user_id, key
    FROM idempotency_keys
    WHERE created_at < now() - $1::interval
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), purged AS (
    DELETE FROM idempotency_keys AS stale
    USING expired
    WHERE stale.user_id = expired.user_id AND stale.key = expired.key
    RETURNING 1
)
SELECT count(*) FROM purged;
