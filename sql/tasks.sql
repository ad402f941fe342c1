-- Every statement here touches tasks, so every one filters by user_id = $1
-- (tests/db/test_sql.py fails the build otherwise).
--
-- Writes to one task take the ETags of an If-Match header as updated_at values ($n, null when
-- there was none) and change the row only while it still has one of them: the precondition and
-- the write are one statement, so no other write can slip in between.

-- name: list_tasks :many
-- A page of the user's tasks. service/tasks/statements.py appends the fragments below that the
-- request chose (filters, then the keyset position, the order and the limit); values stay
-- parameters. tests/tasks/list_statements.sql shows the statement of each shape.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision
FROM tasks
WHERE user_id = $1

-- The fragments: each is ANDed to list_tasks (or ends it), its $n renumbered after those before it.

-- name: filter_completed :fragment
AND completed = $1

-- name: filter_priority :fragment
AND priority = any($1::task_priority[])

-- name: filter_tags :fragment
-- Tasks carrying every one of the tags.
AND tags @> $1::text[]

-- name: filter_due_before :fragment
AND coalesce(due_at, 'infinity') < $1

-- name: filter_due_after :fragment
-- Inclusive, so due_after and due_before tile time without overlap.
AND coalesce(due_at, 'infinity') >= $1 AND due_at IS NOT NULL

-- name: filter_overdue :fragment
-- Overdue: still open and due before now.
AND (NOT completed AND coalesce(due_at < now(), false)) = $1

-- name: filter_search :fragment
AND search @@ to_tsquery('simple', $1)

-- Sort orders: the keyset position after the last row seen (the page starts past it in the
-- chosen direction; {op} is < or >) and the order ({dir} is ASC or DESC), both on the
-- columns of one index, so a page is one range scan of it.

-- name: position_created_at :fragment
AND (created_at, id) {op} ($1::timestamptz, $2::uuid)

-- name: order_created_at :fragment
ORDER BY created_at {dir}, id {dir}

-- name: position_updated_at :fragment
AND (updated_at, id) {op} ($1::timestamptz, $2::uuid)

-- name: order_updated_at :fragment
ORDER BY updated_at {dir}, id {dir}

-- name: position_due_at :fragment
AND (coalesce(due_at, 'infinity'), id) {op} (coalesce($1::timestamptz, 'infinity'), $2::uuid)

-- name: order_due_at :fragment
-- A task without a due date sorts as if due at infinity.
ORDER BY coalesce(due_at, 'infinity') {dir}, id {dir}

-- name: position_priority :fragment
AND (priority, created_at, id) {op} ($1::task_priority, $2::timestamptz, $3::uuid)

-- name: order_priority :fragment
-- Within one priority, by creation time.
ORDER BY priority {dir}, created_at {dir}, id {dir}

-- name: position_title :fragment
AND (lower(title), id) {op} (lower($1::text), $2::uuid)

-- name: order_title :fragment
ORDER BY lower(title) {dir}, id {dir}

-- name: page_limit :fragment
LIMIT $1

-- Every write locks the user's counter row (task_counts) before any task row, and stamps what it
-- changes with the next revision: one user's writes take turns, so revisions follow commit order
-- (migrations/0004.revisions.sql says why), and no two writes can lock in opposite orders. A
-- trigger then advances the counter to the highest revision the statement stamped.

-- name: create_task :one
-- A new open task for the user, unless they already have $7 tasks (then nothing). The upsert
-- makes the user's counter row on their first write and locks it on every other. The database
-- picks the id and the timestamps: one clock reading for both, where each column's default would
-- read the clock once each and could differ by a microsecond.
WITH counter AS (
    INSERT INTO task_counts AS counter (user_id, tasks) VALUES ($1, 0)
    ON CONFLICT (user_id) DO UPDATE SET tasks = counter.tasks
    RETURNING tasks, revision
)
INSERT INTO tasks (user_id, title, description, priority, tags, due_at, created_at, updated_at, revision)
SELECT $1, $2, $3, $4, $5, $6, moment.now, moment.now, counter.revision + 1
FROM counter, (SELECT clock_timestamp() AS now) AS moment
WHERE counter.tasks < $7
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision;

-- name: get_task :one
-- One task, only if it belongs to the user.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision
FROM tasks
WHERE user_id = $1 AND id = $2;

-- name: task_version :val
-- The updated_at (the ETag) of one of the user's tasks, to tell a failed If-Match from a missing task.
SELECT updated_at
FROM tasks
WHERE user_id = $1 AND id = $2;

-- The writes to one task take the next revision from the locked counter in their SET list, which
-- PostgreSQL evaluates before it locks the task row; a write that changes nothing keeps the task's
-- revision (the tasks_touch_updated_at trigger) and so does not advance the counter.

-- name: replace_task :one
-- Replace the content; completed keeps its value when $9 is null.
UPDATE tasks
SET title = $3, description = $4, priority = $5, tags = $6, due_at = $7, completed = coalesce($9, completed),
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($8::timestamptz[] IS NULL OR updated_at = any($8))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision;

-- name: update_task :one
-- Change only the given fields: a null keeps title, completed, priority, tags; a false flag
-- ($4, $10) keeps description, due_at, which may be set to null.
UPDATE tasks
SET title = coalesce($3, title),
    description = CASE WHEN $4::boolean THEN $5 ELSE description END,
    completed = coalesce($6, completed),
    priority = coalesce($7, priority),
    tags = coalesce($8, tags),
    due_at = CASE WHEN $10::boolean THEN $11 ELSE due_at END,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($9::timestamptz[] IS NULL OR updated_at = any($9))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision;

-- name: toggle_task :one
-- Flip completed in one statement, so concurrent toggles never lose a flip.
UPDATE tasks
SET completed = NOT completed,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision;

-- name: set_task_completed :one
-- Set completed to a given value; repeating it changes nothing.
UPDATE tasks
SET completed = $3,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($4::timestamptz[] IS NULL OR updated_at = any($4))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision;

-- Deleting moves tasks to the trash (sql/trash.sql), each stamped with a revision of its own so
-- the change feed reports it. The counter is locked first: EXISTS (SELECT FROM counter) is a
-- condition on no row, which PostgreSQL checks once, before it scans the tasks.

-- name: trash_task :val
-- Move one of the user's tasks to the trash; returns its id, or nothing when there was none.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), gone AS (
    DELETE FROM tasks
    WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
      AND EXISTS (SELECT FROM counter)
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision
)
INSERT INTO trashed_tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision, deleted_at)
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, (SELECT revision + 1 FROM counter), clock_timestamp()
FROM gone
RETURNING id;

-- name: trash_completed_tasks :val
-- Move the user's completed tasks to the trash in one statement, all deleted at one moment;
-- returns how many went. The moment is a CTE, read once: a subquery in FROM would read the clock
-- again for every row it is joined with.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), moment AS (
    SELECT clock_timestamp() AS now
), gone AS (
    DELETE FROM tasks
    WHERE user_id = $1 AND completed AND EXISTS (SELECT FROM counter)
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision
), trashed AS (
    INSERT INTO trashed_tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, revision, deleted_at)
    SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at, (SELECT revision FROM counter) + row_number() OVER (ORDER BY updated_at, id), moment.now
    FROM gone, moment
    RETURNING 1
)
SELECT count(*) FROM trashed;

-- name: task_stats :one
-- The user's totals, per priority and per tag, from one pass over their tasks. "Due today" counts
-- open tasks due on today's date in the IANA time zone $2.
WITH mine AS (
    SELECT completed, priority, tags, due_at
    FROM tasks
    WHERE user_id = $1
), per_tag AS (
    SELECT tag, count(*) AS tasks
    FROM mine, unnest(tags) AS tag
    GROUP BY tag
), today AS (
    SELECT date_trunc('day', now() AT TIME ZONE $2) AT TIME ZONE $2 AS starts
)
SELECT count(*) AS total,
       count(*) FILTER (WHERE completed) AS completed,
       count(*) FILTER (WHERE NOT completed) AS open,
       count(*) FILTER (WHERE NOT completed AND due_at < now()) AS overdue,
       count(*) FILTER (
           WHERE NOT completed
             AND due_at >= (SELECT starts FROM today)
             AND due_at < (SELECT starts + interval '1 day' FROM today)
       ) AS due_today,
       count(*) FILTER (WHERE priority = 'low') AS low,
       count(*) FILTER (WHERE priority = 'medium') AS medium,
       count(*) FILTER (WHERE priority = 'high') AS high,
       (SELECT coalesce(array_agg(tag ORDER BY tag), '{}') FROM per_tag) AS tag_names,
       (SELECT coalesce(array_agg(tasks ORDER BY tag), '{}') FROM per_tag) AS tag_counts,
       (SELECT starts FROM today) AS today_starts  -- always computed, so an unknown zone is an error
FROM mine;
