-- How many tasks each user has, kept by the database, so a create can check the per-user quota
-- by locking one row instead of counting the user's tasks, and concurrent creates take turns.
-- depends: 0002.organise-tasks

CREATE TABLE task_counts (
    user_id text    PRIMARY KEY,
    tasks   integer NOT NULL CHECK (tasks >= 0)
);

INSERT INTO task_counts (user_id, tasks)
SELECT user_id, count(*) FROM tasks GROUP BY user_id;

-- Per statement, from the rows it inserted or deleted: clearing a hundred completed tasks is
-- one update per user, not a hundred.
CREATE FUNCTION task_counts_add_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (user_id, tasks)
    SELECT user_id, count(*) FROM inserted GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET tasks = task_counts.tasks + excluded.tasks;
    RETURN NULL;
END;
$$;

CREATE FUNCTION task_counts_remove_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts
    SET tasks = task_counts.tasks - gone.tasks
    FROM (SELECT user_id, count(*) AS tasks FROM deleted GROUP BY user_id) AS gone
    WHERE task_counts.user_id = gone.user_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_counts_add_inserted
    AFTER INSERT ON tasks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_add_inserted();

CREATE TRIGGER task_counts_remove_deleted
    AFTER DELETE ON tasks REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_remove_deleted();

-- TRUNCATE fires no row or delete triggers; it empties the counts with the table.
CREATE FUNCTION task_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE task_counts;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_counts_truncate
    AFTER TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_truncate();
