"""Where a toggle's PostgreSQL CPU goes with revisions: the statement against variants of it.

    .venv/bin/python -m bench.revisions        # about 5 minutes

No HTTP and no app: asyncpg sends toggles straight to an embedded PostgreSQL (CONNECTIONS at a
time, over USERS users of TASKS tasks), and the CPU of all of PostgreSQL's processes is divided
by the toggles sent. Each variant has a database of its own on the same server; rounds
alternate between them, and each prints the median of ROUNDS.

- today: sql/tasks.sql's toggle_task on the schema as migrated;
- counter advanced by the statement: the counter row updated in the statement itself (a CTE)
  rather than locked there and advanced by the AFTER STATEMENT trigger, which is dropped. Not
  what the service can ship as is: a toggle of a task that is not there (or a failed If-Match)
  would still take a number;
- without the (user_id, revision) index: today's statement, the change feed's index dropped;
- before revisions: the toggle of commit 3e7f1fa on a database migrated up to 0003.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import psycopg

from bench.reference import BEFORE_SYNC, BEFORE_SYNC_MIGRATION, SQL
from bench.run import database_named
from bench.servers import Postgres
from service.db import embedded, migrations

USERS, TASKS, CONNECTIONS, TOGGLES, ROUNDS = 200, 20, 16, 6000, 5

COUNTER_IN_STATEMENT = """
WITH counter AS (UPDATE task_counts SET revision = revision + 1 WHERE user_id = $1 RETURNING revision)
UPDATE tasks
SET completed = NOT completed, revision = (SELECT revision FROM counter)
WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
          revision
"""

# name: (database, statement, SQL run on that database after migrating)
VARIANTS: dict[str, tuple[str, str, str | None]] = {
    "today": ("today", SQL["toggle_task"], None),
    "counter advanced by the statement, no trigger": (
        "in_statement",
        COUNTER_IN_STATEMENT,
        "DROP TRIGGER task_counts_advance_updated ON tasks",
    ),
    "without the (user_id, revision) index": ("no_index", SQL["toggle_task"], "DROP INDEX tasks_user_revision_idx"),
    "before revisions (schema at 0003)": ("before", BEFORE_SYNC["toggle"], None),
}


def prepare(database_url: str, name: str, change: str | None) -> list[tuple[str, Any]]:
    """Database ``name`` migrated (up to 0003 for "before"), changed, seeded; its tasks' (user, id)."""
    url = database_named(database_url, name)
    with psycopg.connect(database_url, autocommit=True) as server:
        server.execute(f"CREATE DATABASE {name}")
    with tempfile.TemporaryDirectory(prefix="bench-migrations-") as directory:
        last = BEFORE_SYNC_MIGRATION.split(".")[0] if name == "before" else "9999"
        for path in sorted(migrations.MIGRATIONS_DIR.glob("*.sql")):
            if path.name.split(".")[0] <= last:
                shutil.copy(path, directory)
        migrations.apply(url, directory=Path(directory))
    with psycopg.connect(url, autocommit=True) as db:
        if change:
            db.execute(change)
        db.execute(
            """
            INSERT INTO tasks (user_id, title, description, tags)
            SELECT 'u' || u, 'task ' || t, CASE WHEN t %% 2 = 0 THEN 'some words about it' END,
                   CASE WHEN t %% 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END
            FROM generate_series(1, %s) AS u, generate_series(1, %s) AS t
            """,
            (USERS, TASKS),
        )
        db.execute("VACUUM ANALYZE tasks")
        return db.execute("SELECT user_id, id FROM tasks ORDER BY user_id, id").fetchall()


async def toggles(url: str, statement: str, tasks: list[tuple[str, Any]], postgres: Postgres) -> tuple[float, float]:
    """µs of PostgreSQL CPU per toggle, and toggles a second."""
    pool = await asyncpg.create_pool(url, min_size=CONNECTIONS, max_size=CONNECTIONS)

    async def send(first: int, step: int, count: int) -> None:
        for n in range(first, count, step):
            user_id, task_id = tasks[n * 7919 % len(tasks)]  # spread over users, no two in a row alike
            await pool.fetchrow(statement, user_id, task_id, None)

    try:
        await send(0, 1, 200)  # every connection made, the statement prepared
        before, started = postgres.cpu_seconds(), time.monotonic()
        await asyncio.gather(*(send(k, CONNECTIONS, TOGGLES) for k in range(CONNECTIONS)))
        wall, cpu = time.monotonic() - started, postgres.cpu_seconds() - before
    finally:
        await pool.close()
    return cpu / TOGGLES * 1e6, TOGGLES / wall


def main() -> int:
    with embedded.temporary() as database_url, psycopg.connect(database_url, autocommit=True) as db:
        db.execute("ALTER SYSTEM SET synchronous_commit = off")  # as in bench.run
        db.execute("SELECT pg_reload_conf()")
        postgres = Postgres.serving(db.info.backend_pid)
        seeded = {name: prepare(database_url, database, change) for name, (database, _, change) in VARIANTS.items()}
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for _ in range(ROUNDS):
            for name, (database, statement, _) in VARIANTS.items():
                url = database_named(database_url, database)
                measured[name].append(asyncio.run(toggles(url, statement, seeded[name], postgres)))
    print(f"\n{TOGGLES} toggles per round, {CONNECTIONS} at a time, medians of {ROUNDS} rounds\n")
    print("| toggle | PostgreSQL µs CPU/toggle | toggles/s |")
    print("|---|---:|---:|")
    for name, values in measured.items():
        cpu, rate = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        print(f"| {name} | {cpu:.0f} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
