-- Drop the idempotency keys: retries then run again, as before keys were recorded.
-- depends: 0003.count-tasks-per-user

DROP TABLE idempotency_keys;
