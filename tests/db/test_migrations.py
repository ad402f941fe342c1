"""The schema: migrations round-trip, and the database protects itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import asyncpg
import pytest

from service.db import migrations
from service.db.urls import asyncpg_dsn
from tests.conftest import wipe


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(scratch_url))
    yield connection
    await connection.close()


async def tables(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def test_apply_rollback_apply(scratch_url: str, scratch: asyncpg.Connection) -> None:
    every = migrations.migration_ids()
    assert every == [
        "0001.create-tasks",
        "0002.organise-tasks",
        "0003.count-tasks-per-user",
        "0004.revisions",
        "0005.trash",
        "0006.idempotency-keys",
        "0007.recurrence",
        "0008.events",
        "0009.lists",
        "0010.import-defers-place-checks",
    ]

    assert migrations.apply(scratch_url) == every
    assert "tasks" in await tables(scratch)
    assert migrations.apply(scratch_url) == []  # nothing left to do

    assert migrations.rollback(scratch_url, count=0) == every[::-1]
    assert "tasks" not in await tables(scratch)
    assert await scratch.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'tasks_touch_updated_at'") == 0

    assert migrations.apply(scratch_url) == every
    assert "tasks" in await tables(scratch)


FIRST_SCHEMA = (
    "SELECT user_id, id, title, description, completed, created_at, updated_at FROM tasks ORDER BY user_id, id"
)


async def test_upgrade_from_the_first_schema_keeps_every_task_and_rollback_loses_nothing_that_was_there(
    scratch_url: str, scratch: asyncpg.Connection
) -> None:
    migrations.apply(scratch_url)
    later = migrations.migration_ids()[1:]
    assert migrations.rollback(scratch_url, count=len(later)) == later[::-1]  # the first schema
    await scratch.execute(
        """
        INSERT INTO tasks (user_id, title, description, completed)
        SELECT 'user-' || n % 3, 'task ' || n, CASE WHEN n % 2 = 0 THEN 'notes ' || n END, n % 4 = 0
        FROM generate_series(1, 200) AS n
        """
    )
    await scratch.execute("UPDATE tasks SET title = title || '!' WHERE completed")  # updated_at moves
    snapshot = FIRST_SCHEMA
    before = [tuple(row) for row in await scratch.fetch(snapshot)]

    assert migrations.apply(scratch_url) == later
    assert [tuple(row) for row in await scratch.fetch(snapshot)] == before
    counted = await scratch.fetch("SELECT user_id, tasks, revision FROM task_counts ORDER BY user_id")
    assert [tuple(row) for row in counted] == [("user-0", 66, 66), ("user-1", 67, 67), ("user-2", 67, 67)]
    # Every task has a revision: each user's numbered 1 to n in the order they last changed.
    numbered = await scratch.fetch(
        "SELECT array_agg(revision ORDER BY updated_at, id) FROM tasks GROUP BY user_id ORDER BY user_id"
    )
    assert [list(row[0]) for row in numbered] == [list(range(1, n + 1)) for n in (66, 67, 67)]
    defaults = await scratch.fetch(
        "SELECT DISTINCT priority::text, tags, due_at, completed, completed_at = updated_at AS at_last_change,"
        " completed_at IS NULL AS open FROM tasks ORDER BY completed"
    )
    assert [tuple(row) for row in defaults] == [
        ("medium", [], None, False, None, True),
        ("medium", [], None, True, True, False),  # completed at the latest when last changed
    ]
    # The new columns work on the old rows, and the rollback then keeps the original columns.
    await scratch.execute(
        "UPDATE tasks SET priority = 'high', tags = '{kept}', due_at = now() WHERE user_id = 'user-1'"
    )
    changed = [tuple(row) for row in await scratch.fetch(snapshot)]

    assert migrations.rollback(scratch_url, count=len(later)) == later[::-1]
    assert [tuple(row) for row in await scratch.fetch(snapshot)] == changed
    assert await scratch.fetchval("SELECT count(*) FROM tasks") == len(before)
    # And the first schema's trigger is back: a write that changes nothing leaves updated_at alone.
    unchanged = await scratch.fetchval("UPDATE tasks SET title = title WHERE user_id = 'user-0' RETURNING updated_at")
    assert unchanged in {row[-1] for row in changed}


async def test_concurrent_migrators_take_turns(scratch_url: str, scratch: asyncpg.Connection) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = await asyncio.gather(
            *(asyncio.get_running_loop().run_in_executor(pool, migrations.apply, scratch_url) for _ in range(4))
        )
    # yoyo's lock lets exactly one of them do the work; the others find nothing pending.
    assert sorted(len(applied) for applied in results) == [0, 0, 0, len(migrations.migration_ids())]
    assert "tasks" in await tables(scratch)


@pytest.mark.parametrize(("table", "key"), [("tasks", ["user_id", "id"]), ("idempotency_keys", ["user_id", "key"])])
async def test_primary_key_leads_with_user_id(admin: asyncpg.Connection, table: str, key: list[str]) -> None:
    columns = await admin.fetchval(
        """
        SELECT array_agg(a.attname ORDER BY k.ordinality)
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1::regclass AND i.indisprimary
        """,
        table,
    )
    assert columns == key


async def test_every_key_of_users_data_leads_with_user_id(admin: asyncpg.Connection) -> None:
    # Citus needs the distribution column in every primary and unique key; user_id first also
    # makes each key a per-user range. Every table with a user_id column is checked, so a table
    # added later is too.
    keys = await admin.fetch(
        """
        SELECT i.indexrelid::regclass::text AS key, a.attname AS first_column
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE (i.indisprimary OR i.indisunique)
          AND i.indrelid IN (
              SELECT format('%I', table_name)::regclass
              FROM information_schema.columns
              WHERE table_schema = 'public' AND column_name = 'user_id'
          )
        """
    )
    assert {"tasks_pkey", "trashed_tasks_pkey", "task_tombstones_pkey", "task_counts_pkey"} <= {
        key["key"] for key in keys
    }
    assert [key["key"] for key in keys if key["first_column"] != "user_id"] == []


@pytest.mark.parametrize(
    ("title", "description"),
    [("", None), ("   ", None), ("x" * 201, None), ("ok", "d" * 1001)],
)
async def test_check_constraints_refuse_what_the_api_refuses(
    admin: asyncpg.Connection, title: str, description: str | None
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.execute("INSERT INTO tasks (user_id, title, description) VALUES ('u', $1, $2)", title, description)


@pytest.mark.parametrize(
    ("tags", "completed", "completed_at"),
    [
        (["Home"], False, None),  # not lower-case
        ([" home"], False, None),  # not trimmed
        (["home", "home"], False, None),
        ([""], False, None),
        (["x" * 33], False, None),
        ([f"t{n}" for n in range(11)], False, None),
        ([], True, None),  # completed without a time
        ([], False, "2026-01-01T00:00:00Z"),  # a time without being completed
    ],
)
async def test_check_constraints_guard_the_new_fields(
    admin: asyncpg.Connection, tags: list[str], completed: bool, completed_at: str | None
) -> None:
    await admin.execute("SET session_replication_role = replica")  # the triggers would fix completed_at
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await admin.execute(
                "INSERT INTO tasks (user_id, title, tags, completed, completed_at, revision, position)"
                " VALUES ('u', 't', $1, $2, $3, 1, 'a0')",
                tags,
                completed,
                None if completed_at is None else datetime.fromisoformat(completed_at),
            )
    finally:
        await admin.execute("SET session_replication_role = origin")


async def test_ten_valid_tags_pass_the_check(admin: asyncpg.Connection) -> None:
    await wipe(admin)
    tags = [f"{n}".rjust(32, "x") for n in range(10)]
    assert (
        await admin.fetchval("INSERT INTO tasks (user_id, title, tags) VALUES ('u', 't', $1) RETURNING tags", tags)
        == tags
    )
    await wipe(admin)


async def test_check_constraint_refuses_an_empty_user_id(admin: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.execute("INSERT INTO tasks (user_id, title) VALUES ('', 't')")


async def test_updated_at_moves_only_on_change_and_never_backwards(admin: asyncpg.Connection) -> None:
    await wipe(admin)
    created = await admin.fetchrow("INSERT INTO tasks (user_id, title) VALUES ('u', 't') RETURNING id, updated_at")
    same = await admin.fetchval("UPDATE tasks SET title = 't' WHERE id = $1 RETURNING updated_at", created["id"])
    assert same == created["updated_at"]
    # A client cannot set updated_at by hand, even to the past.
    forced = await admin.fetchval(
        "UPDATE tasks SET title = 'u', updated_at = '2000-01-01' WHERE id = $1 RETURNING updated_at", created["id"]
    )
    assert forced > created["updated_at"]


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("list_tasks", ("user-0042",)),
        ("get_task", ("user-0042", "00000000-0000-0000-0000-000000000000")),
        ("toggle_task", ("user-0042", "00000000-0000-0000-0000-000000000000", None, False)),
    ],
)
async def test_queries_are_index_lookups_starting_from_user_id(
    scratch_url: str, scratch: asyncpg.Connection, query: str, args: tuple[str, ...]
) -> None:
    from service.db.sql import load

    migrations.apply(scratch_url)
    # 100 users with 200 tasks each: enough rows that the planner would rather not scan them all.
    await scratch.execute(
        """
        INSERT INTO tasks (user_id, title)
        SELECT 'user-' || lpad((n % 100)::text, 4, '0'), 'task ' || n FROM generate_series(1, 20000) AS n
        """
    )
    await scratch.execute("ANALYZE tasks")
    plan = await scratch.fetchval(f"EXPLAIN (FORMAT JSON) {load()[query].sql}", *args)  # plans, does not run
    text = str(plan)
    assert "Seq Scan" not in text, plan
    assert "Index" in text, plan
    assert "user_id" in text, plan


def test_migrations_refuse_neons_pooled_endpoint_without_connecting() -> None:
    pooled = "postgresql://u:p@ep-cool-cake-123456-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require"
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"direct one \(ep-cool-cake-123456\.eu-central-1\.aws\.neon\.tech\)"):
        migrations.apply(pooled, retry_seconds=30)
    assert time.monotonic() - started < 1  # refused before any connection attempt or retry
