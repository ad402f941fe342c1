-- The reminders of the user's tasks (task_reminders, kept by triggers on tasks: one row per reminder
-- of an open task with a due date). Every statement filters by user_id = $1.

-- name: list_reminders :many
-- The user's reminders whose moment is in [$2, $3), soonest first: a range scan of
-- task_reminders_user_time_idx, each joined to its task by primary key.
SELECT task_reminders.task_id, tasks.title, tasks.due_at, task_reminders.remind_at, task_reminders.minutes_before
FROM task_reminders
JOIN tasks ON tasks.user_id = task_reminders.user_id AND tasks.id = task_reminders.task_id
WHERE task_reminders.user_id = $1 AND task_reminders.remind_at >= $2 AND task_reminders.remind_at < $3
ORDER BY task_reminders.remind_at, task_reminders.task_id, task_reminders.minutes_before;
