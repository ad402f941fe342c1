-- The reminder scheduler's statements (service/events/scheduler.py): each works across users, and
-- each that writes takes only rows it can lock at once (FOR UPDATE SKIP LOCKED) in batches of $2,
-- so any number of instances fire at once, each reminder by exactly one of them, and none waits on
-- another or on a user's write. tests/db/test_sql.py holds this file to that.

-- name: fire_due_reminders :many
-- Mark up to $2 unfired reminders due at $1 fired, soonest first, and return each with its task's
-- title and due time, as GET /reminders lists it, and whether it is on time: due after $3 (one
-- due before, missed while no instance ran, is marked fired and not announced). A reminder a writer holds
-- (its task being completed, trashed or moved) is passed over: the write decides whether it goes.
WITH due AS (
    SELECT user_id, task_id, minutes_before
    FROM task_reminders
    WHERE fired_at IS NULL AND remind_at <= $1
    ORDER BY remind_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), fired AS (
    UPDATE task_reminders
    SET fired_at = $1
    FROM due
    WHERE task_reminders.user_id = due.user_id
      AND task_reminders.task_id = due.task_id
      AND task_reminders.minutes_before = due.minutes_before
    RETURNING task_reminders.user_id, task_reminders.task_id, task_reminders.remind_at,
              task_reminders.minutes_before
)
SELECT fired.remind_at > $3 AS on_time,
       fired.user_id, fired.task_id, task.title, task.due_at, fired.remind_at, fired.minutes_before
FROM fired
CROSS JOIN LATERAL (
    SELECT title, due_at
    FROM tasks
    WHERE tasks.user_id = fired.user_id AND tasks.id = fired.task_id
    LIMIT 1
) AS task
ORDER BY fired.remind_at, fired.user_id, fired.task_id, fired.minutes_before;

-- name: announce_reminders :exec
-- Announce fired reminders, each payload a user id and a reminder (service/events/scheduler.py),
-- on the channel every process listens to; delivered when the firing transaction commits.
SELECT pg_notify('task_api_reminders', payload) FROM unnest($1::text[]) AS payload;

-- name: next_reminder_at :val
-- When the soonest unfired reminder is due, across users (null: none): one step into the partial
-- index of unfired reminders. A read: it locks nothing.
SELECT min(remind_at) FROM task_reminders WHERE fired_at IS NULL;
