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

-- name: filter_series :fragment
AND series_id = $1

-- name: filter_search :fragment
AND search @@ to_tsquery('simple', $1)

-- name: filter_list :fragment
-- One list's tasks; the nil uuid is the inbox (no list), as in tasks_user_place_position_idx.
AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $1

-- name: filter_parent :fragment
-- One task's subtasks; the nil uuid: the tasks that are no subtask.
AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = $1

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

-- name: position_position :fragment
-- The user's own order: by list (the inbox first), then the top-level tasks before each parent's
-- subtasks, then by position, which is unique there: the columns of tasks_user_place_position_idx.
AND (coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid),
     coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), position)
    {op} (coalesce($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid),
          coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid), $3::text)

-- name: order_position :fragment
ORDER BY coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) {dir},
         coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) {dir}, position {dir}

-- name: page_limit :fragment
LIMIT $1

-- Every write locks the user's counter row (task_counts) before any task row, and stamps what it
-- changes with the next revision: one user's writes take turns, so revisions follow commit order
-- (migrations/0004.revisions.sql says why), and no two writes can lock in opposite orders. A
-- trigger then advances the counter to the highest revision the statement stamped.

-- name: create_task :one
-- A new open task for the user in list $11 under parent $12 at position $13 (create_plan says
-- where), unless they already have $7 tasks (then nothing). The upsert
-- makes the user's counter row on their first write and locks it on every other. The database
-- picks the id and the timestamps: one clock reading for both, where each column's default would
-- read the clock once each and could differ by a microsecond. A recurring task ($8) starts a
-- series anchored at its due_at.
WITH counter AS (
    INSERT INTO task_counts AS counter (user_id, tasks) VALUES ($1, 0)
    ON CONFLICT (user_id) DO UPDATE SET tasks = counter.tasks
    RETURNING tasks, revision
)
INSERT INTO tasks (user_id, title, description, priority, tags, due_at, recurrence, time_zone, reminders, series_id,
                   anchor_at, list_id, parent_id, position, created_at, updated_at, revision)
SELECT $1, $2, $3, $4, $5, $6, $8, $9, $10,
       CASE WHEN $8::text IS NOT NULL THEN gen_random_uuid() END, CASE WHEN $8::text IS NOT NULL THEN $6::timestamptz END,
       $11, $12, $13, moment.now, moment.now, counter.revision + 1
FROM counter, (SELECT clock_timestamp() AS now) AS moment
WHERE counter.tasks < $7
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          0::bigint AS subtasks, 0::bigint AS subtasks_open;

-- name: get_task :one
-- One task, only if it belongs to the user.
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       counts.subtasks, counts.subtasks_open
FROM tasks
CROSS JOIN LATERAL (
    SELECT count(*) AS subtasks, count(*) FILTER (WHERE NOT sub.completed) AS subtasks_open
    FROM tasks AS sub
    WHERE sub.user_id = tasks.user_id AND sub.parent_id = tasks.id
) AS counts
WHERE user_id = $1 AND id = $2;

-- name: task_version :one
-- The updated_at (the ETag) of one of the user's tasks, and whether it is an open occurrence of a
-- series: tells a write refused by If-Match, or one that completes an occurrence, from a missing task.
SELECT updated_at, recurrence IS NOT NULL AND NOT completed AS open_occurrence
FROM tasks
WHERE user_id = $1 AND id = $2;

-- name: occurrence_of :one
-- What expanding the series of one of the user's tasks takes: its rule, zone, anchor, due_at,
-- completion time, and its version (updated_at), to write only what was checked.
SELECT recurrence, time_zone, anchor_at, due_at, completed_at, updated_at
FROM tasks
WHERE user_id = $1 AND id = $2;

-- The writes to one task take the next revision from the locked counter in their SET list, which
-- PostgreSQL evaluates before it locks the task row; a write that changes nothing keeps the task's
-- revision (the tasks_touch_updated_at trigger) and so does not advance the counter.
--
-- Completing an open occurrence of a series must create its next occurrence in the same
-- transaction, which takes the rule's expansion in Python: unless their last parameter allows it,
-- these writes refuse to (and change nothing), so the service runs them again, allowed, inside a
-- transaction with create_next_occurrence. Any other write stays one statement.
--
-- A change of an open occurrence's due_at, rule or zone restarts its series from the new due_at
-- (anchor_at); a null rule ends it (no series_id).

-- name: replace_task :one
-- Replace the content; completed keeps its value when $9 is null.
UPDATE tasks
SET title = $3, description = $4, priority = $5, tags = $6, due_at = $7, completed = coalesce($9, completed),
    recurrence = $10, time_zone = $11, reminders = $12,
    series_id = CASE WHEN $10::text IS NOT NULL THEN coalesce(series_id, gen_random_uuid()) END,
    anchor_at = CASE
        WHEN $10::text IS NULL THEN NULL
        WHEN anchor_at IS NULL OR NOT completed AND ($7, $10, $11) IS DISTINCT FROM (due_at, recurrence, time_zone)
            THEN $7::timestamptz
        ELSE anchor_at
    END,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($8::timestamptz[] IS NULL OR updated_at = any($8))
  AND ($13::boolean OR $10::text IS NULL OR completed OR NOT coalesce($9, completed))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id) AS subtasks,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id AND NOT sub.completed)
              AS subtasks_open;

-- name: update_task :one
-- Change only the given fields: a null keeps title, completed, priority, tags, time_zone,
-- reminders; a false flag ($4, $10, $12) keeps description, due_at, recurrence, which may be set
-- to null.
UPDATE tasks
SET title = coalesce($3, title),
    description = CASE WHEN $4::boolean THEN $5 ELSE description END,
    completed = coalesce($6, completed),
    priority = coalesce($7, priority),
    tags = coalesce($8, tags),
    due_at = CASE WHEN $10::boolean THEN $11 ELSE due_at END,
    recurrence = CASE WHEN $12::boolean THEN $13 ELSE recurrence END,
    time_zone = coalesce($14, time_zone),
    reminders = coalesce($15, reminders),
    series_id = CASE
        WHEN (CASE WHEN $12::boolean THEN $13 ELSE recurrence END) IS NOT NULL THEN coalesce(series_id, gen_random_uuid())
    END,
    anchor_at = CASE
        WHEN (CASE WHEN $12::boolean THEN $13 ELSE recurrence END) IS NULL THEN NULL
        WHEN anchor_at IS NULL OR NOT completed AND (
            (CASE WHEN $10::boolean THEN $11 ELSE due_at END), (CASE WHEN $12::boolean THEN $13 ELSE recurrence END),
            coalesce($14, time_zone)
        ) IS DISTINCT FROM (due_at, recurrence, time_zone) THEN CASE WHEN $10::boolean THEN $11 ELSE due_at END
        ELSE anchor_at
    END,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($9::timestamptz[] IS NULL OR updated_at = any($9))
  AND ($16::boolean OR (CASE WHEN $12::boolean THEN $13 ELSE recurrence END) IS NULL OR completed
       OR NOT coalesce($6, completed))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id) AS subtasks,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id AND NOT sub.completed)
              AS subtasks_open;

-- name: toggle_task :one
-- Flip completed in one statement, so concurrent toggles never lose a flip.
UPDATE tasks
SET completed = NOT completed,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
  AND ($4::boolean OR recurrence IS NULL OR completed)
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id) AS subtasks,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id AND NOT sub.completed)
              AS subtasks_open;

-- name: set_task_completed :one
-- Set completed to a given value; repeating it changes nothing.
UPDATE tasks
SET completed = $3,
    revision = (SELECT revision + 1 FROM task_counts WHERE user_id = $1 FOR UPDATE)
WHERE user_id = $1 AND id = $2 AND ($4::timestamptz[] IS NULL OR updated_at = any($4))
  AND ($5::boolean OR recurrence IS NULL OR completed OR NOT $3)
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id) AS subtasks,
          (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id AND NOT sub.completed)
              AS subtasks_open;

-- name: create_next_occurrence :one
-- The next open occurrence of the user's completed occurrence $2, due at $3: the same content,
-- rule, zone, reminders and series, in the same list under the same parent at position $5. Nothing when that occurrence already has its next (the unique
-- tasks_user_follows_idx: whatever two clients do at once, and however often it is re-opened and
-- completed again), when its series goes on past it already (an open occurrence due later: its
-- next was trashed after that one was made), or when the user has $4 tasks.
WITH counter AS (
    SELECT tasks, revision FROM task_counts WHERE user_id = $1 FOR UPDATE
)
INSERT INTO tasks (user_id, title, description, priority, tags, due_at, recurrence, time_zone, reminders, series_id,
                   anchor_at, follows, list_id, parent_id, position, created_at, updated_at, revision)
SELECT user_id, title, description, priority, tags, $3, recurrence, time_zone, reminders, series_id,
       anchor_at, id, list_id, parent_id, $5, moment.now, moment.now, counter.revision + 1
FROM tasks AS done, counter, (SELECT clock_timestamp() AS now) AS moment
WHERE user_id = $1 AND id = $2 AND completed AND recurrence IS NOT NULL AND counter.tasks < $4
  AND NOT EXISTS (
      SELECT FROM tasks AS later
      WHERE later.user_id = $1 AND later.series_id = done.series_id AND NOT later.completed AND later.due_at > done.due_at
  )
ON CONFLICT (user_id, follows) DO NOTHING
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
          0::bigint AS subtasks, 0::bigint AS subtasks_open;

-- Deleting moves tasks to the trash (sql/trash.sql), each stamped with a revision of its own so
-- the change feed reports it. The counter is locked first: EXISTS (SELECT FROM counter) is a
-- condition on no row, which PostgreSQL checks once, before it scans the tasks.

-- name: has_next_occurrence :val
-- Whether the user's occurrence $2 has its next already, or its series an open occurrence due after
-- it: tells either from a next refused by the quota.
SELECT EXISTS (SELECT FROM tasks WHERE user_id = $1 AND follows = $2)
    OR EXISTS (
        SELECT FROM tasks AS done JOIN tasks AS later ON later.user_id = done.user_id AND later.series_id = done.series_id
        WHERE done.user_id = $1 AND done.id = $2 AND NOT later.completed AND later.due_at > done.due_at
    );

-- name: trash_task :val
-- Move one of the user's tasks, and its subtasks with it, to the trash, all at one moment (what
-- restore_task brings back together); returns its id, or nothing when there was none.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), moment AS (
    SELECT clock_timestamp() AS now
), top AS (
    SELECT id FROM tasks
    WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
      AND EXISTS (SELECT FROM counter)
), gone AS (
    DELETE FROM tasks
    WHERE user_id = $1 AND (id IN (SELECT id FROM top) OR parent_id IN (SELECT id FROM top))
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position
), trashed AS (
    INSERT INTO trashed_tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at,
                               created_at, updated_at, recurrence, time_zone, reminders, series_id, anchor_at, follows,
                               list_id, parent_id, position, revision, deleted_at)
    SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
           recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position,
           (SELECT revision FROM counter) + row_number() OVER (ORDER BY id <> $2, id), moment.now
    FROM gone, moment
    RETURNING id
)
SELECT id FROM trashed WHERE id = $2;

-- name: trash_completed_tasks :val
-- Move the user's completed tasks, and the subtasks of those, to the trash in one statement, all
-- deleted at one moment;
-- returns how many went. The moment is a CTE, read once: a subquery in FROM would read the clock
-- again for every row it is joined with.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), moment AS (
    SELECT clock_timestamp() AS now
), gone AS (
    DELETE FROM tasks
    WHERE user_id = $1 AND EXISTS (SELECT FROM counter)
      AND (completed OR parent_id IN (SELECT parent.id FROM tasks AS parent WHERE parent.user_id = $1 AND parent.completed))
    RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
              recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position
), trashed AS (
    INSERT INTO trashed_tasks (id, user_id, title, description, completed, priority, tags, due_at, completed_at,
                               created_at, updated_at, recurrence, time_zone, reminders, series_id, anchor_at, follows,
                               list_id, parent_id, position, revision, deleted_at)
    SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
           recurrence, time_zone, reminders, series_id, anchor_at, follows, list_id, parent_id, position,
           (SELECT revision FROM counter) + row_number() OVER (ORDER BY updated_at, id), moment.now
    FROM gone, moment
    RETURNING 1
)
SELECT count(*) FROM trashed;

-- name: task_stats :one
-- The user's totals, per priority and per tag, from one pass over their tasks. "Due today" counts
-- open tasks due on today's date in the IANA time zone $2. With $3, only the tasks of that list
-- (the nil uuid: the inbox).
WITH mine AS (
    SELECT completed, priority, tags, due_at
    FROM tasks
    WHERE user_id = $1 AND ($3::uuid IS NULL OR coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid) = $3)
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

-- Placing a task: where it goes (its list, its parent, its position among its siblings) is checked
-- and its position key computed in Python (service/tasks/placing.py) from what these read; the
-- write then changes one row. Two writes that computed the same key for one place meet
-- tasks_user_place_position_idx, and the service tries again.

-- name: create_plan :one
-- Where a new task goes: the list asked for ($2 true: $3, null the inbox) or else its parent's
-- ($4); whether that list and the parent are the user's, the parent's own list and parent, and the
-- last position there.
WITH parent AS (
    SELECT id, list_id, parent_id FROM tasks WHERE user_id = $1 AND id = $4
), target AS (
    SELECT CASE WHEN $2::boolean THEN $3::uuid ELSE (SELECT list_id FROM parent) END AS list_id
)
SELECT target.list_id,
       target.list_id IS NULL OR EXISTS (SELECT FROM lists WHERE user_id = $1 AND id = target.list_id) AS list_found,
       EXISTS (SELECT FROM parent) AS parent_found,
       (SELECT list_id FROM parent) AS parent_list_id,
       coalesce((SELECT parent_id IS NOT NULL FROM parent), false) AS parent_nested,
       (SELECT max(position) FROM tasks
        WHERE user_id = $1
          AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(target.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce($4::uuid, '00000000-0000-0000-0000-000000000000'::uuid)) AS last_position
FROM target;

-- name: move_plan :one
-- Where task $2 would go: the list asked for ($3 true: $4), else its own; the parent asked for
-- ($5 true: $6), else its own while it stays in its list, else none; after task $7 (null: first).
-- With whether it has subtasks, whether the list and parent are the user's, the parent's list and
-- parent, the after task's list, parent and position, the position that follows it there, the
-- last position there (the task's own left out), and whether the task is in that place already.
-- Nothing when the user has no task $2.
WITH task AS (
    SELECT id, list_id, parent_id FROM tasks WHERE user_id = $1 AND id = $2
), target AS (
    SELECT CASE WHEN $3::boolean THEN $4::uuid ELSE task.list_id END AS list_id,
           CASE WHEN $5::boolean THEN $6::uuid
                WHEN NOT $3::boolean OR $4::uuid IS NOT DISTINCT FROM task.list_id THEN task.parent_id
           END AS parent_id,
           task.list_id AS current_list_id, task.parent_id AS current_parent_id
    FROM task
)
SELECT target.list_id, target.parent_id,
       EXISTS (SELECT FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = $2) AS has_subtasks,
       target.list_id IS NULL OR EXISTS (SELECT FROM lists WHERE user_id = $1 AND id = target.list_id) AS list_found,
       parent.id IS NOT NULL AS parent_found, parent.list_id AS parent_list_id,
       parent.parent_id IS NOT NULL AS parent_nested,
       anchor.id IS NOT NULL AS after_found, anchor.list_id AS after_list_id, anchor.parent_id AS after_parent_id,
       anchor.position AS after_position,
       (SELECT next.position FROM tasks AS next
        WHERE next.user_id = $1
          AND coalesce(next.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(target.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND coalesce(next.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(target.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND next.position > coalesce(anchor.position, '') AND next.id <> $2
        ORDER BY next.position
        LIMIT 1) AS next_position,
       (SELECT max(last.position) FROM tasks AS last
        WHERE last.user_id = $1
          AND coalesce(last.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(target.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND coalesce(last.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(target.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND last.id <> $2) AS last_position,
       target.list_id IS NOT DISTINCT FROM target.current_list_id
           AND target.parent_id IS NOT DISTINCT FROM target.current_parent_id AS in_place
FROM target
LEFT JOIN tasks AS parent ON parent.user_id = $1 AND parent.id = target.parent_id
LEFT JOIN tasks AS anchor ON anchor.user_id = $1 AND anchor.id = $7;

-- name: move_task :one
-- Put task $2 in list $3 under parent $4 at position $5; a task moving to another list takes its
-- subtasks with it (they keep their positions: their place there is new). Each changed row gets a
-- revision of its own. Nothing when the user has no task $2.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
), moving AS (
    SELECT id, row_number() OVER (ORDER BY id <> $2, id) AS n
    FROM tasks
    WHERE user_id = $1 AND (id = $2 OR (parent_id = $2 AND list_id IS DISTINCT FROM $3::uuid))
      AND EXISTS (SELECT FROM counter)
), moved AS (
    UPDATE tasks
    SET list_id = $3,
        parent_id = CASE WHEN tasks.id = $2 THEN $4::uuid ELSE tasks.parent_id END,
        position = CASE WHEN tasks.id = $2 THEN $5::text ELSE tasks.position END,
        revision = (SELECT revision FROM counter) + moving.n
    FROM moving
    WHERE tasks.user_id = $1 AND tasks.id = moving.id
    RETURNING tasks.id, tasks.user_id, tasks.title, tasks.description, tasks.completed, tasks.priority, tasks.tags,
              tasks.due_at, tasks.completed_at, tasks.created_at, tasks.updated_at, tasks.revision, tasks.recurrence,
              tasks.time_zone, tasks.reminders, tasks.series_id, tasks.list_id, tasks.parent_id, tasks.position
)
SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
       revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
       (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = $2) AS subtasks,
       (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = $2 AND NOT sub.completed)
           AS subtasks_open
FROM moved
WHERE id = $2;

-- name: next_to_task :one
-- The position of task $2 and the one that follows it in its place: where its series' next
-- occurrence goes.
SELECT task.position,
       (SELECT next.position FROM tasks AS next
        WHERE next.user_id = $1
          AND coalesce(next.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(task.list_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND coalesce(next.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(task.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
          AND next.position > task.position
        ORDER BY next.position
        LIMIT 1) AS next_position
FROM tasks AS task
WHERE task.user_id = $1 AND task.id = $2;

-- name: lock_counter :exec
-- Take the user's counter first in a transaction that reads before it writes: no other write of the
-- user can then change what it read (a retried move, a rebalance, a restore).
INSERT INTO task_counts AS counter (user_id, tasks) VALUES ($1, 0)
ON CONFLICT (user_id) DO UPDATE SET tasks = counter.tasks;

-- name: place_order :many
-- The ids and positions of the tasks of one place (list $2, parent $3; nulls as the nil uuid), in order.
SELECT id, position
FROM tasks
WHERE user_id = $1
  AND coalesce(list_id, '00000000-0000-0000-0000-000000000000'::uuid)
      = coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
  AND coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
      = coalesce($3::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
ORDER BY position;

-- name: rebalance_place :exec
-- Give the tasks $2 the positions $3, in one statement, each with a revision of its own. The new
-- keys all follow the place's old ones, so no row ever meets another's old key on the way.
WITH counter AS (
    SELECT revision FROM task_counts WHERE user_id = $1 FOR UPDATE
)
UPDATE tasks
SET position = fresh.position,
    revision = (SELECT revision FROM counter) + fresh.n
FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS fresh (id, position, n)
WHERE tasks.user_id = $1 AND tasks.id = fresh.id;
