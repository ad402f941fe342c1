-- Idempotency keys: a user's write sent with an Idempotency-Key, and the answer it got. Every
-- statement filters by user_id = $1 (tests/db/test_sql.py fails the build otherwise); the purge of
-- expired keys, which works for every user, is in sql/purge.sql.
--
-- A keyed write runs in one transaction: lock_idempotency_key, then idempotency_key_answer, then
-- the handler's own statements, then record_idempotency_key_answer. The lock and the look-up are
-- two statements on purpose: in READ COMMITTED a statement sees the rows committed when it
-- started, so a look-up in the locking statement could start just before the previous holder of
-- the lock commits its answer, get the lock just after, and miss that answer. The look-up that
-- follows the lock sees every answer committed by whoever held it before.

-- name: lock_idempotency_key :val
-- Whether this transaction now holds the user's key, until it ends; false while another does.
-- The lock is a 64-bit hash of the user and the key: a collision could only make two keys,
-- sent at the same moment, refuse one of them with a 409.
SELECT pg_try_advisory_xact_lock(hashtextextended($2, hashtextextended($1, 0)));

-- name: idempotency_key_answer :one
-- The answer recorded under the user's key within the last $3, if any.
SELECT fingerprint, status, body, content_type, location, etag
FROM idempotency_keys
WHERE user_id = $1 AND key = $2 AND created_at > now() - $3::interval;

-- name: record_idempotency_key_answer :val
-- Record the answer under the user's key, replacing one older than $9; returns nothing when an
-- answer within $9 is there already (the lock should make that impossible: the caller rolls back).
INSERT INTO idempotency_keys AS recorded (user_id, key, fingerprint, status, body, content_type, location, etag)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (user_id, key) DO UPDATE
SET fingerprint = excluded.fingerprint,
    status = excluded.status,
    body = excluded.body,
    content_type = excluded.content_type,
    location = excluded.location,
    etag = excluded.etag,
    created_at = excluded.created_at
WHERE recorded.created_at <= now() - $9::interval
RETURNING true;
