-- Drop the per-user task counts and the triggers that keep them.
-- depends: 0002.organise-tasks

DROP TRIGGER task_counts_truncate ON tasks;
DROP FUNCTION task_counts_truncate();
DROP TRIGGER task_counts_remove_deleted ON tasks;
DROP TRIGGER task_counts_add_inserted ON tasks;
DROP FUNCTION task_counts_remove_deleted();
DROP FUNCTION task_counts_add_inserted();
DROP TABLE task_counts;
