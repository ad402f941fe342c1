-- An import replaces a user's tasks and lists by id, keeping the timestamps they were exported with:
-- it deletes the rows it replaces and inserts them again. A subtask or a task of a list it replaces
-- points at a row that is gone for a moment, so those two checks may wait for the commit (in that
-- transaction only, by SET CONSTRAINTS); everywhere else they are checked at once, as before.
-- depends: 0009.lists

ALTER TABLE tasks ALTER CONSTRAINT tasks_list_fkey DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE tasks ALTER CONSTRAINT tasks_parent_fkey DEFERRABLE INITIALLY IMMEDIATE;
