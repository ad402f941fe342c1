-- Drop the idempotency keys: retries then run again, as before keys were recorded.
-- depends: 0005.trash

DROP TABLE idempotency_keys;
