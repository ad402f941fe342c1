-- Statements about the service itself; none of them reads or writes tasks.

-- name: applied_migrations :many
-- Which of the given migration ids yoyo has recorded as applied.
SELECT migration_id
FROM _yoyo_migration
WHERE migration_id = any($1::text[]);
