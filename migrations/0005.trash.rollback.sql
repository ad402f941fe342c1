-- Without the trash, a deleted task is gone: the trashed tasks and the tombstones go with their tables.
-- depends: 0004.revisions

DROP TRIGGER task_counts_advance_trashed ON trashed_tasks;
DROP TABLE task_tombstones;
DROP TABLE trashed_tasks;
