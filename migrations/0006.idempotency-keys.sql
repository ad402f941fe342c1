-- Idempotency keys: the answer to each user's write sent with an Idempotency-Key, recorded in the
-- write's own transaction, so a retry gets that answer again instead of running twice.
-- depends: 0005.trash

CREATE TABLE idempotency_keys (
    user_id      text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 255),
    key          text        NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),  -- visible ASCII, as the header
    -- sha256 of the method, path, query and body (JSON re-encoded canonically): a repeat must match it.
    fingerprint  bytea       NOT NULL CHECK (length(fingerprint) = 32),
    -- Only successful answers are recorded: an error leaves the key unused, so a retry runs afresh.
    status       smallint    NOT NULL CHECK (status BETWEEN 200 AND 299),
    body         bytea       NOT NULL,
    content_type text,
    location     text,
    etag         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- user_id first: a key belongs to one user, and the distribution column is in every unique key.
    PRIMARY KEY (user_id, key)
);

-- The purge deletes the oldest first, across users.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
