-- The trash, where a deleted task stays a while and can be restored, and the tombstones that
-- remember, for the change feed, the tasks purged from it.
-- depends: 0004.revisions

-- A trashed task: the task as it was, the revision of its deletion and when it was deleted. Kept
-- apart from tasks, so no list, search, count or lookup of live tasks can ever see one.
CREATE TABLE trashed_tasks (
    user_id      text          NOT NULL,
    id           uuid          NOT NULL,
    title        text          NOT NULL,
    description  text,
    completed    boolean       NOT NULL,
    priority     task_priority NOT NULL,
    tags         text[]        NOT NULL,
    due_at       timestamptz,
    completed_at timestamptz,
    created_at   timestamptz   NOT NULL,
    updated_at   timestamptz   NOT NULL,
    revision     bigint        NOT NULL,
    deleted_at   timestamptz   NOT NULL,
    PRIMARY KEY (user_id, id)
);

-- The change feed reads deletions after a revision; the trash lists the latest deletions first.
CREATE UNIQUE INDEX trashed_tasks_user_revision_idx ON trashed_tasks (user_id, revision);
CREATE INDEX trashed_tasks_user_deleted_idx ON trashed_tasks (user_id, deleted_at DESC, id DESC);
-- The purge finds what has been in the trash too long, across users.
CREATE INDEX trashed_tasks_deleted_idx ON trashed_tasks (deleted_at);

-- A task purged from the trash: only that it was deleted, at which revision and when, until the
-- change feed's retention (SYNC_RETENTION_DAYS) has passed.
CREATE TABLE task_tombstones (
    user_id    text        NOT NULL,
    task_id    uuid        NOT NULL,
    revision   bigint      NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, task_id)
);

CREATE UNIQUE INDEX task_tombstones_user_revision_idx ON task_tombstones (user_id, revision);
CREATE INDEX task_tombstones_deleted_idx ON task_tombstones (deleted_at);

-- Moving a task to the trash stamps it with a revision: the counter follows, as for tasks.
CREATE TRIGGER task_counts_advance_trashed
    AFTER INSERT ON trashed_tasks REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_advance_revision();
