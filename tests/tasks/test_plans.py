"""Every filter and sort of the task list is an index scan that starts from user_id; so are the
change feed (one ordered merge of three range scans), the pages of the trash, and a day of
reminders (a range of their index).

The table holds a million tasks, 10,000 for each of 100 users, so the planner has every reason
to prefer a sequential scan if an index did not serve the query; beside them, each user has 1,000
trashed tasks and 1,000 tombstones.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from service.db import migrations
from service.db.urls import asyncpg_dsn
from service.reminders.queries import LIST_REMINDERS
from service.sync.queries import CHANGES
from service.tasks import listing, statements
from service.tasks.queries import MOVE_PLAN
from service.tasks.statements import SortKey, TaskQuery
from service.trash.queries import LIST_TRASH, LIST_TRASH_AFTER

USER = "user-042"
NOW = datetime(2026, 11, 22, tzinfo=UTC)
FILTERS: dict[str, dict[str, Any]] = {
    "completed": {"completed": True},
    "priority": {"priorities": ("high", "low")},
    "tag": {"tags": ("work",)},
    "due_before": {"due_before": NOW},
    "due_after": {"due_after": NOW},
    "overdue": {"overdue": True},
    "search": {"search": listing.search_terms("mil")},
    "list_id": {"list_id": uuid.UUID(int=0)},
    "parent_id": {"parent_id": uuid.UUID(int=0)},
    "list_id and parent_id": {"list_id": uuid.UUID(int=0), "parent_id": uuid.UUID(int=0)},
    "all of them": {
        "completed": False,
        "priorities": ("high",),
        "tags": ("work",),
        "due_after": NOW,
        "due_before": datetime(2027, 1, 1, tzinfo=UTC),
        "search": listing.search_terms("report"),
    },
}
SORT_INDEXES: dict[SortKey, str] = {
    "created_at": "tasks_user_created_idx",
    "updated_at": "tasks_user_updated_idx",
    "due_at": "tasks_user_due_idx",
    "priority": "tasks_user_priority_idx",
    "title": "tasks_user_title_idx",
    "position": "tasks_user_place_position_idx",
}
FILLED = ["tasks", "trashed_tasks", "task_tombstones", "lists", "list_tombstones"]
TRASHED_FROM = 20_000  # each user's trashed tasks have revisions from here to 1,000 more; their tasks, up to 10,001
BURIED_FROM = 30_000  # and their tombstones from here
POSITIONS: dict[SortKey, tuple[Any, ...]] = {
    "created_at": (NOW, uuid.UUID(int=0)),
    "updated_at": (NOW, uuid.UUID(int=0)),
    "due_at": (None, uuid.UUID(int=0)),
    "priority": ("medium", NOW, uuid.UUID(int=0)),
    "title": ("task 5", uuid.UUID(int=0)),
    "position": (None, None, "d00A0"),
}


@pytest.fixture(scope="module")
def million_url(migrated: str) -> Iterator[str]:
    """A new database holding the schema and a million tasks; dropped afterwards."""
    name = f"task_api_plans_{uuid.uuid4().hex[:12]}"
    url = urlunsplit(urlsplit(migrated)._replace(path=f"/{name}"))

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(migrated))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        migrations.apply(url)
        asyncio.run(_fill(url))
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _fill(url: str) -> None:
    """A million rows, loaded as a bulk load would be: indexes built after, triggers off."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = any($1) AND indexname NOT LIKE '%pkey'",
            FILLED,
        )
        for index in indexes:
            await connection.execute(f"DROP INDEX {index['indexname']}")
        await connection.execute("SET session_replication_role = replica")  # completed_at is set below
        await connection.execute(
            """
            INSERT INTO tasks (user_id, title, description, priority, tags, due_at, completed, completed_at, revision,
                               reminders, recurrence, series_id, anchor_at, position)
            SELECT 'user-' || lpad((n % 100)::text, 3, '0'),
                   'task ' || n || ' ' || (ARRAY['milk', 'report', 'call', 'gym', 'book'])[1 + n % 5],
                   CASE WHEN n % 3 = 0 THEN 'notes for ' || n END,
                   (ARRAY['low', 'medium', 'high']::task_priority[])[1 + n % 3],
                   CASE n % 4 WHEN 0 THEN ARRAY['home'] WHEN 1 THEN ARRAY['work', 'tag' || n % 50] ELSE '{}' END,
                   CASE WHEN n % 2 = 0 THEN $1::timestamptz + (n % 1000 - 500) * interval '1 hour' END,
                   n % 5 = 0,
                   CASE WHEN n % 5 = 0 THEN $1::timestamptz END,
                   n / 100 + 1,  -- each user's tasks numbered 1 to 10,000
                   -- An eighth of the tasks with a due date have a reminder, some minutes up to four weeks
                   -- before it, so a day's reminders are a few dozen of a user's.
                   CASE WHEN n % 2 = 0 AND n / 100 % 8 = 0 THEN ARRAY[n / 100 * 37 % 40320] ELSE '{}' END,
                   -- A quarter of them are daily series of a hundred occurrences, 25 series a user.
                   CASE WHEN n % 2 = 0 AND n / 100 % 4 = 1 THEN 'FREQ=DAILY' END,
                   CASE WHEN n % 2 = 0 AND n / 100 % 4 = 1 THEN md5('series ' || n % 5000)::uuid END,
                   CASE WHEN n % 2 = 0 AND n / 100 % 4 = 1
                        THEN $1::timestamptz + (n % 1000 - 500) * interval '1 hour' END,  -- anchored at due_at
                   -- In creation order, as migration 0009 numbers the tasks it finds: 'd' and four digits.
                   'd' || lpad(to_hex(n / 100), 4, '0')
            FROM generate_series(1, 1000000) AS n
            """,
            NOW,
        )
        # 1,000 trashed tasks and 1,000 tombstones per user, deleted after the tasks were last written.
        await connection.execute(
            """
            INSERT INTO trashed_tasks
                (user_id, id, title, completed, priority, tags, created_at, updated_at, revision, deleted_at)
            SELECT 'user-' || lpad((n % 100)::text, 3, '0'), gen_random_uuid(), 'trashed ' || n, false, 'medium', '{}',
                   $1::timestamptz - interval '90 days', $1::timestamptz - interval '90 days',
                   $2::bigint + n / 100, $1::timestamptz - n * interval '1 minute'
            FROM generate_series(1, 100000) AS n
            """,
            NOW,
            TRASHED_FROM,
        )
        await connection.execute(
            """
            INSERT INTO task_tombstones (user_id, task_id, revision, deleted_at)
            SELECT 'user-' || lpad((n % 100)::text, 3, '0'), gen_random_uuid(), $2::bigint + n / 100,
                   $1::timestamptz - n * interval '1 minute'
            FROM generate_series(1, 100000) AS n
            """,
            NOW,
            BURIED_FROM,
        )
        await connection.execute(
            """
            INSERT INTO task_counts (user_id, tasks, revision, horizon)
            SELECT 'user-' || lpad(u::text, 3, '0'), 10000, $1, 0 FROM generate_series(0, 99) AS u
            """,
            BURIED_FROM + 1000,
        )
        # 20 lists per user, half the tasks filed in them, a twentieth of those subtasks of another there.
        await connection.execute(
            """
            INSERT INTO lists (user_id, id, name, revision, created_at, updated_at)
            SELECT 'user-' || lpad((n % 100)::text, 3, '0'), md5('list ' || n)::uuid, 'list ' || n,
                   $2::bigint + n / 100, $1, $1
            FROM generate_series(0, 1999) AS n
            """,
            NOW,
            BURIED_FROM + 2000,
        )
        await connection.execute(
            """
            UPDATE tasks SET list_id = md5('list ' || (revision % 20 * 100 + substr(user_id, 6)::integer))::uuid
            WHERE revision % 2 = 0
            """
        )
        await connection.execute(
            """
            UPDATE tasks AS sub SET parent_id = parent.id
            FROM tasks AS parent
            WHERE sub.revision % 40 = 2 AND parent.user_id = sub.user_id AND parent.revision = sub.revision - 20
            """
        )
        await connection.execute(
            """
            INSERT INTO list_tombstones (user_id, list_id, revision, deleted_at)
            SELECT 'user-' || lpad((n % 100)::text, 3, '0'), gen_random_uuid(), $2::bigint + n / 100,
                   $1::timestamptz - n * interval '1 minute'
            FROM generate_series(1, 10000) AS n
            """,
            NOW,
            BURIED_FROM + 3000,
        )
        # What the triggers would have made: a row for each reminder of an open task.
        await connection.execute(
            """
            INSERT INTO task_reminders (user_id, task_id, minutes_before, remind_at)
            SELECT user_id, id, minutes, due_at - minutes * interval '1 minute'
            FROM tasks, unnest(reminders) AS minutes
            WHERE reminders <> '{}' AND NOT completed
            """
        )
        for index in indexes:
            await connection.execute(index["indexdef"])
        for table in (*FILLED, "task_counts", "task_reminders"):
            await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()


@pytest.fixture(params=["force_custom_plan", "force_generic_plan"])
async def million(million_url: str, request: pytest.FixtureRequest) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the million tasks, planning as a fresh (custom) or a warm (generic) prepared statement does."""
    connection = await asyncpg.connect(asyncpg_dsn(million_url))
    await connection.execute(f"SET plan_cache_mode = {request.param}")
    yield connection
    await connection.close()


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def explain(connection: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The plan of ``sql`` prepared and run with ``args``, as the connection's plan_cache_mode has it
    planned: for these values (custom) or for any values (generic).

    EXPLAIN of a statement with parameters plans it for the values bound to it whatever the
    plan_cache_mode; only EXPLAIN EXECUTE of a prepared statement shows the plan its executions use.
    """
    statement = await connection.prepare(sql)
    values = [
        await _literal(connection, arg, parameter)
        for arg, parameter in zip(args, statement.get_parameters(), strict=True)
    ]
    plan = await connection.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {statement.get_name()}({', '.join(values)})")
    return list(nodes(json.loads(plan)[0]["Plan"]))


async def _literal(connection: asyncpg.Connection, value: Any, parameter: Any) -> str:
    """``value`` as an SQL literal of the parameter's type, quoted by the server itself."""
    type_name = await connection.fetchval("SELECT format_type($1, NULL)", parameter.oid)
    quoted = await connection.fetchval(f"SELECT quote_nullable($1::{type_name})", value)
    return f"{quoted}::{type_name}"


async def plan_of(connection: asyncpg.Connection, query: TaskQuery) -> list[dict[str, Any]]:
    sql, args = statements.list_statement(USER, query)
    return await explain(connection, sql, *args)


def assert_scans_start_from_user_id(plan: list[dict[str, Any]]) -> None:
    scans = [node for node in plan if node.get("Relation Name") == "tasks" or "Index Name" in node]
    assert scans, plan
    for node in scans:
        assert node["Node Type"] in {"Index Scan", "Index Only Scan", "Bitmap Index Scan", "Bitmap Heap Scan"}, plan
        if "Index Name" in node:
            assert "user_id = " in node.get("Index Cond", ""), node


@pytest.mark.parametrize("filters", FILTERS.values(), ids=FILTERS.keys())
async def test_each_filter_is_an_index_scan_from_user_id(million: asyncpg.Connection, filters: dict[str, Any]) -> None:
    plan = await plan_of(million, TaskQuery(**filters, page_size=100))
    assert_scans_start_from_user_id(plan)


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("positioned", [False, True], ids=["first page", "next page"])
@pytest.mark.parametrize("sort", get_args(SortKey))
async def test_each_sort_reads_its_index_in_order(
    million: asyncpg.Connection, sort: SortKey, descending: bool, positioned: bool
) -> None:
    query = TaskQuery(sort=sort, descending=descending, after=POSITIONS[sort] if positioned else None, page_size=100)
    plan = await plan_of(million, query)
    assert_scans_start_from_user_id(plan)
    # The index gives the order, so the scan stops after one page: no sort of the user's tasks.
    assert not any(node["Node Type"] in {"Sort", "Incremental Sort"} for node in plan), plan
    assert SORT_INDEXES[sort] in {node.get("Index Name") for node in plan}, plan
    if positioned:  # the keyset position is where the index scan starts, not a filter after it
        scan = next(node for node in plan if node.get("Index Name") == SORT_INDEXES[sort])
        assert "Filter" not in scan, scan
        assert re.search(r"ROW\(.*\) [<>] ROW\(", scan["Index Cond"]), scan


def test_every_sort_has_an_index_here() -> None:
    assert set(SORT_INDEXES) == set(get_args(SortKey)) == set(listing.POSITION_FIELDS)


async def test_the_generic_plan_is_for_any_values(million: asyncpg.Connection) -> None:
    generic = await million.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    plan = await explain(million, LIST_TRASH.sql, USER, 101)
    [scan] = [node for node in plan if node.get("Index Name") == "trashed_tasks_user_deleted_idx"]
    assert (scan["Index Cond"] == "(user_id = $1)") is generic, scan


def counts(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scans that count a task's subtasks, each through its parent index."""
    return [
        node for node in plan if node.get("Index Name") in {"tasks_user_parent_idx", "trashed_tasks_user_parent_idx"}
    ]


# The change feed's sources, each read through its (user_id, revision) index.
REVISION_INDEXES = {
    "tasks": "tasks_user_revision_idx",
    "trashed_tasks": "trashed_tasks_user_revision_idx",
    "task_tombstones": "task_tombstones_user_revision_idx",
    "lists": "lists_user_revision_idx",
    "list_tombstones": "list_tombstones_user_revision_idx",
}


@pytest.mark.parametrize("since", [5_000, TRASHED_FROM + 500], ids=["behind on tasks", "behind on trash"])
async def test_the_change_feed_merges_three_revision_index_scans(million: asyncpg.Connection, since: int) -> None:
    plan = await explain(million, CHANGES.sql, USER, since, 501)  # a page of 500, and one more to tell has_more
    # Each page's task also has its subtasks counted, through their own index: not a source.
    sources = [node for node in plan if node.get("Relation Name") in REVISION_INDEXES and node not in counts(plan)]
    assert {node["Relation Name"]: node.get("Index Name") for node in sources} == REVISION_INDEXES, plan
    assert len(sources) == len(REVISION_INDEXES), plan
    for scan in sources:  # each starts at (user_id, since) and reads on in revision order
        assert (scan["Node Type"], scan["Scan Direction"]) == ("Index Scan", "Forward"), scan
        assert re.fullmatch(r"\(\(user_id = .+\) AND \(revision > .+\)\)", scan["Index Cond"]), scan
        assert "Filter" not in scan, scan
    # Merged in order and cut at the page: no source is read past it, and nothing is sorted below it.
    [merge] = [node for node in plan if node["Node Type"] == "Merge Append"]
    [page] = [node for node in plan if node["Node Type"] == "Limit" and merge in node.get("Plans", [])]
    merged = list(nodes(page))
    assert all(scan in merged for scan in sources), plan
    assert not any(node["Node Type"] in {"Sort", "Incremental Sort", "Seq Scan"} for node in merged), plan


@pytest.mark.parametrize("positioned", [False, True], ids=["first page", "next page"])
async def test_the_trash_reads_its_index_in_order(million: asyncpg.Connection, positioned: bool) -> None:
    if positioned:
        plan = await explain(million, LIST_TRASH_AFTER.sql, USER, NOW - timedelta(days=30), uuid.UUID(int=0), 101)
    else:
        plan = await explain(million, LIST_TRASH.sql, USER, 101)
    assert not any(node["Node Type"] in {"Sort", "Incremental Sort", "Seq Scan"} for node in plan), plan
    [scan] = [node for node in plan if node.get("Relation Name") == "trashed_tasks" and node not in counts(plan)]
    assert (scan["Node Type"], scan["Index Name"]) == ("Index Scan", "trashed_tasks_user_deleted_idx"), scan
    assert "user_id = " in scan["Index Cond"], scan
    assert "Filter" not in scan, scan
    if positioned:  # the page starts at the position in the index
        assert re.search(r"ROW\(deleted_at, id\) < ROW\(", scan["Index Cond"]), scan


async def test_the_series_filter_is_an_index_scan_from_user_id(million: asyncpg.Connection) -> None:
    series_id = await million.fetchval("SELECT series_id FROM tasks WHERE user_id = $1 AND series_id IS NOT NULL", USER)
    plan = await plan_of(million, TaskQuery(series_id=series_id, page_size=100))
    assert_scans_start_from_user_id(plan)
    assert "tasks_user_series_idx" in {node.get("Index Name") for node in plan}, plan


async def test_a_day_of_reminders_is_a_range_of_their_index_joined_by_primary_key(
    million: asyncpg.Connection,
) -> None:
    start = NOW + timedelta(days=2)
    window = (USER, start, start + timedelta(days=1))
    # The window holds a few dozen of the user's reminders, out of the 50,000 in the table.
    within = "SELECT count(*) FROM task_reminders WHERE user_id = $1 AND remind_at >= $2 AND remind_at < $3"
    assert 10 < await million.fetchval(within, *window) < 100
    plan = await explain(million, LIST_REMINDERS.sql, *window)
    assert not any(node["Node Type"] == "Seq Scan" for node in plan), plan
    scans = [node for node in plan if "Relation Name" in node or "Index Name" in node]
    reminders = [node for node in scans if node.get("Index Name") == "task_reminders_user_time_idx"]
    assert len(reminders) == 1, plan
    assert re.search(r"user_id = .*\bremind_at >= .*\bremind_at < ", reminders[0]["Index Cond"]), reminders
    # Every other scan fetches one task by its primary key: tasks are never read by user alone, so
    # any Sort in the plan sorts the window's reminders, never the user's tasks.
    for node in scans:
        if node.get("Relation Name") == "task_reminders":
            assert node["Node Type"] in {"Index Scan", "Bitmap Heap Scan"}, node
            assert "remind_at >= " in node.get("Index Cond", node.get("Recheck Cond", "")), node
        elif node is not reminders[0]:
            assert node.get("Index Name") == "tasks_pkey", node
            assert re.search(r"user_id = .*\bid = task_reminders\.task_id", node["Index Cond"]), node


async def test_a_moves_reads_are_index_scans_of_one_place(million: asyncpg.Connection) -> None:
    # Two top-level tasks of one list (not any list: half of them hold no task).
    filed = await million.fetchval(
        "SELECT min(list_id::text)::uuid FROM tasks WHERE user_id = $1 AND list_id IS NOT NULL AND parent_id IS NULL",
        USER,
    )
    task, after = await million.fetch(
        "SELECT id FROM tasks WHERE user_id = $1 AND list_id = $2 AND parent_id IS NULL ORDER BY position LIMIT 2",
        USER,
        filed,
    )
    plan = await explain(million, MOVE_PLAN.sql, USER, task["id"], False, None, False, None, after["id"])
    assert not any(node["Node Type"] in {"Seq Scan", "Sort", "Incremental Sort"} for node in plan), plan
    assert "tasks_user_place_position_idx" in {node.get("Index Name") for node in plan}, plan
    for node in plan:
        if "Index Name" in node:
            assert "user_id = " in node.get("Index Cond", ""), node
