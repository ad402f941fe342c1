-- Back to checking a task's list and parent at every statement, without exception.
-- depends: 0009.lists

ALTER TABLE tasks ALTER CONSTRAINT tasks_parent_fkey NOT DEFERRABLE;
ALTER TABLE tasks ALTER CONSTRAINT tasks_list_fkey NOT DEFERRABLE;
