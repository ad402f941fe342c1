-- The list_tasks statements the service sends: each filter alone, each sort both ways on a first
-- page and on a next page (after a cursor's position), and all filters together. Each shows the
-- exact text sent and its arguments in order, for user 'alice' asking for pages of 20 tasks.
--
-- Written by tests/tasks/test_list_statements.py, which fails when service/tasks/statements.py
-- composes anything else. After an intended change, regenerate it and review the diff:
--   UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tasks/test_list_statements.py

-- filter completed
--   $1 = 'alice'
--   $2 = true
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND completed = $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter priority
--   $1 = 'alice'
--   $2 = ['high', 'low']
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND priority = any($2::task_priority[])
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter tag
--   $1 = 'alice'
--   $2 = ['work', 'home']
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND tags @> $2::text[]
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter due_before
--   $1 = 'alice'
--   $2 = 2026-12-01T00:00:00+00:00
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND coalesce(due_at, 'infinity') < $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter due_after
--   $1 = 'alice'
--   $2 = 2026-11-01T00:00:00+00:00
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND coalesce(due_at, 'infinity') >= $2 AND due_at IS NOT NULL
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter overdue
--   $1 = 'alice'
--   $2 = false
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (NOT completed AND coalesce(due_at < now(), false)) = $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter series_id
--   $1 = 'alice'
--   $2 = '00000000-0000-0000-0000-000000000002'
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND series_id = $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter q
--   $1 = 'alice'
--   $2 = 'milk:* & bread:*'
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND search @@ to_tsquery('simple', $2)
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter list_id
--   $1 = 'alice'
--   $2 = '00000000-0000-0000-0000-000000000003'
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- filter parent_id
--   $1 = 'alice'
--   $2 = '00000000-0000-0000-0000-000000000000'
--   $3 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = $2
ORDER BY created_at DESC, id DESC
LIMIT $3

-- sort=created_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY created_at ASC, id ASC
LIMIT $2

-- sort=created_at, next page
--   $1 = 'alice'
--   $2 = 2026-11-22T09:30:00+00:00
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (created_at, id) > ($2::timestamptz, $3::uuid)
ORDER BY created_at ASC, id ASC
LIMIT $4

-- sort=-created_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2

-- sort=-created_at, next page
--   $1 = 'alice'
--   $2 = 2026-11-22T09:30:00+00:00
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (created_at, id) < ($2::timestamptz, $3::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $4

-- sort=updated_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY updated_at ASC, id ASC
LIMIT $2

-- sort=updated_at, next page
--   $1 = 'alice'
--   $2 = 2026-11-22T09:30:00+00:00
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (updated_at, id) > ($2::timestamptz, $3::uuid)
ORDER BY updated_at ASC, id ASC
LIMIT $4

-- sort=-updated_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY updated_at DESC, id DESC
LIMIT $2

-- sort=-updated_at, next page
--   $1 = 'alice'
--   $2 = 2026-11-22T09:30:00+00:00
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (updated_at, id) < ($2::timestamptz, $3::uuid)
ORDER BY updated_at DESC, id DESC
LIMIT $4

-- sort=due_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY coalesce(due_at, 'infinity') ASC, id ASC
LIMIT $2

-- sort=due_at, next page
--   $1 = 'alice'
--   $2 = null
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (coalesce(due_at, 'infinity'), id) > (coalesce($2::timestamptz, 'infinity'), $3::uuid)
ORDER BY coalesce(due_at, 'infinity') ASC, id ASC
LIMIT $4

-- sort=-due_at, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY coalesce(due_at, 'infinity') DESC, id DESC
LIMIT $2

-- sort=-due_at, next page
--   $1 = 'alice'
--   $2 = null
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (coalesce(due_at, 'infinity'), id) < (coalesce($2::timestamptz, 'infinity'), $3::uuid)
ORDER BY coalesce(due_at, 'infinity') DESC, id DESC
LIMIT $4

-- sort=priority, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY priority ASC, created_at ASC, id ASC
LIMIT $2

-- sort=priority, next page
--   $1 = 'alice'
--   $2 = 'medium'
--   $3 = 2026-11-22T09:30:00+00:00
--   $4 = '00000000-0000-0000-0000-000000000001'
--   $5 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (priority, created_at, id) > ($2::task_priority, $3::timestamptz, $4::uuid)
ORDER BY priority ASC, created_at ASC, id ASC
LIMIT $5

-- sort=-priority, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY priority DESC, created_at DESC, id DESC
LIMIT $2

-- sort=-priority, next page
--   $1 = 'alice'
--   $2 = 'medium'
--   $3 = 2026-11-22T09:30:00+00:00
--   $4 = '00000000-0000-0000-0000-000000000001'
--   $5 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (priority, created_at, id) < ($2::task_priority, $3::timestamptz, $4::uuid)
ORDER BY priority DESC, created_at DESC, id DESC
LIMIT $5

-- sort=title, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY lower(title) ASC, id ASC
LIMIT $2

-- sort=title, next page
--   $1 = 'alice'
--   $2 = 'Buy milk'
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (lower(title), id) > (lower($2::text), $3::uuid)
ORDER BY lower(title) ASC, id ASC
LIMIT $4

-- sort=-title, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY lower(title) DESC, id DESC
LIMIT $2

-- sort=-title, next page
--   $1 = 'alice'
--   $2 = 'Buy milk'
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (lower(title), id) < (lower($2::text), $3::uuid)
ORDER BY lower(title) DESC, id DESC
LIMIT $4

-- sort=position, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) ASC,
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) ASC, position ASC
LIMIT $2

-- sort=position, next page
--   $1 = 'alice'
--   $2 = null
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 'a0V'
--   $5 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid),
     coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), position)
    > (coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid),
          coalesce($3::uuid, '00000000-0000-0000-0000-000000000000'::uuid), $4::text)
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) ASC,
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) ASC, position ASC
LIMIT $5

-- sort=-position, first page
--   $1 = 'alice'
--   $2 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) DESC,
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) DESC, position DESC
LIMIT $2

-- sort=-position, next page
--   $1 = 'alice'
--   $2 = null
--   $3 = '00000000-0000-0000-0000-000000000001'
--   $4 = 'a0V'
--   $5 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND (coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid),
     coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), position)
    < (coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid),
          coalesce($3::uuid, '00000000-0000-0000-0000-000000000000'::uuid), $4::text)
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) DESC,
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) DESC, position DESC
LIMIT $5

-- all filters
--   $1 = 'alice'
--   $2 = true
--   $3 = ['high', 'low']
--   $4 = ['work', 'home']
--   $5 = 2026-12-01T00:00:00+00:00
--   $6 = 2026-11-01T00:00:00+00:00
--   $7 = false
--   $8 = '00000000-0000-0000-0000-000000000002'
--   $9 = '00000000-0000-0000-0000-000000000003'
--   $10 = '00000000-0000-0000-0000-000000000000'
--   $11 = 'milk:* & bread:*'
--   $12 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND completed = $2
AND priority = any($3::task_priority[])
AND tags @> $4::text[]
AND coalesce(due_at, 'infinity') < $5
AND coalesce(due_at, 'infinity') >= $6 AND due_at IS NOT NULL
AND (NOT completed AND coalesce(due_at < now(), false)) = $7
AND series_id = $8
AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $9
AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = $10
AND search @@ to_tsquery('simple', $11)
ORDER BY created_at DESC, id DESC
LIMIT $12

-- all filters, sort=priority, next page
--   $1 = 'alice'
--   $2 = true
--   $3 = ['high', 'low']
--   $4 = ['work', 'home']
--   $5 = 2026-12-01T00:00:00+00:00
--   $6 = 2026-11-01T00:00:00+00:00
--   $7 = false
--   $8 = '00000000-0000-0000-0000-000000000002'
--   $9 = '00000000-0000-0000-0000-000000000003'
--   $10 = '00000000-0000-0000-0000-000000000000'
--   $11 = 'milk:* & bread:*'
--   $12 = 'medium'
--   $13 = 2026-11-22T09:30:00+00:00
--   $14 = '00000000-0000-0000-0000-000000000001'
--   $15 = 21
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1
AND completed = $2
AND priority = any($3::task_priority[])
AND tags @> $4::text[]
AND coalesce(due_at, 'infinity') < $5
AND coalesce(due_at, 'infinity') >= $6 AND due_at IS NOT NULL
AND (NOT completed AND coalesce(due_at < now(), false)) = $7
AND series_id = $8
AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $9
AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = $10
AND search @@ to_tsquery('simple', $11)
AND (priority, created_at, id) > ($12::task_priority, $13::timestamptz, $14::uuid)
ORDER BY priority ASC, created_at ASC, id ASC
LIMIT $15
