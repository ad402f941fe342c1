-- Drop the tasks table and its trigger function.
-- depends:

DROP TABLE tasks;
DROP FUNCTION tasks_touch_updated_at();
