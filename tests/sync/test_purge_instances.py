"""The purge job is safe with many instances: they share the expired rows, purge each exactly once,
and never wait for a user's write.

Rows are aged behind the API's back (deleted_at moved into the past) by a day or two: past the
retention these tests give the purge, well within the 30 days of any other app of the session, whose
own purge job must not take part.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from service.db.pool import Database, create_pool
from service.db.urls import asyncpg_dsn
from service.sync.purge import Purged, Retention, purge
from service.tasks import queries as tasks
from tests.conftest import SECRET, TestClient, bearer, make_settings, wipe
from tests.support.server import clean_env, start_server, stop

Row = tuple[str, UUID, int]  # user_id, task id, the revision of its deletion

USERS = ("ann", "ben", "cat", "dan")
DAY = timedelta(days=1)
# The trash past one day, the tombstones past two: a trashed task aged 25 hours is purged, and its
# tombstone, which keeps the deletion's time, stays until aged another two days.
INSTANCE_RETENTION = {"TRASH_RETENTION_DAYS": "1", "SYNC_RETENTION_DAYS": "2"}
LATER = timedelta(days=2)  # how far ahead of the clock the direct purges below say it is
BURY = Retention(trash=DAY, tombstones=timedelta(days=3650))  # trash goes, tombstones stay
FORGET = Retention(trash=DAY, tombstones=DAY)


@pytest.fixture(autouse=True)
async def _no_user_data(admin: asyncpg.Connection) -> None:
    await wipe(admin)


async def trash(admin: asyncpg.Connection, user: str, count: int) -> list[Row]:
    """``count`` new tasks of the user, completed, then moved to the trash by the service's statement."""
    made = await admin.fetch(
        "INSERT INTO tasks (user_id, title, completed) SELECT $1, 'task ' || n, true FROM generate_series(1, $2) n"
        " RETURNING id",
        user,
        count,
    )
    assert await tasks.trash_completed_tasks(admin, user_id=user) == count
    return await rows(
        admin, "SELECT user_id, id, revision FROM trashed_tasks WHERE id = any($1::uuid[])", [row["id"] for row in made]
    )


async def rows(admin: asyncpg.Connection, query: str, *args: Any) -> list[Row]:
    return sorted(tuple(row) for row in await admin.fetch(query, *args))


async def tombstones(admin: asyncpg.Connection) -> list[Row]:
    return await rows(admin, "SELECT user_id, task_id, revision FROM task_tombstones")


async def horizons(admin: asyncpg.Connection) -> dict[str, int]:
    return {row["user_id"]: row["horizon"] for row in await admin.fetch("SELECT user_id, horizon FROM task_counts")}


def latest(buried: list[Row]) -> dict[str, int]:
    """Each user's highest revision among the rows: their horizon once those are forgotten."""
    highest: dict[str, int] = {}
    for user, _task_id, revision in buried:
        highest[user] = max(highest.get(user, 0), revision)
    return highest


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"{condition} is still false after {seconds}s"
        await asyncio.sleep(0.05)


async def database(url: str) -> AsyncIterator[Database]:
    pool = await create_pool(make_settings(url, db_pool_min_size=1, db_pool_max_size=1))
    try:
        yield Database(pool, acquire_timeout=5)
    finally:
        await pool.close()


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    async for db in database(migrated):
        yield db


@pytest.fixture
async def other_db(migrated: str) -> AsyncIterator[Database]:
    async for db in database(migrated):
        yield db


# Two service processes on one database, each purging every 0.2 s (jittered: 0.1 to 0.3 s).

INSTANCES = ("purging-0", "purging-1")  # their DB_APPLICATION_NAME
PURGED = re.compile(r"purged (\d+) trashed tasks, (\d+) tombstones, \d+ list tombstones and \d+ idempotency keys")


@asynccontextmanager
async def let_through_at_once(admin: asyncpg.Connection, table: str) -> AsyncIterator[None]:
    """A transaction that holds ``table`` against writes until the purge of every instance waits
    for it; what the block does in it, both purges then find at the same moment, when it commits."""
    async with admin.transaction():
        await admin.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        await until(lambda: all_waiting(admin))
        yield


async def all_waiting(admin: asyncpg.Connection) -> bool:
    await admin.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction reads the activity once
    waiting: int = await admin.fetchval(
        """
        SELECT count(DISTINCT application_name) FROM pg_stat_activity
        WHERE application_name = any($1::text[]) AND wait_event_type = 'Lock'
        """,
        INSTANCES,
    )
    return waiting == len(INSTANCES)


def purge_log(log: Path) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """What an instance's log says it purged, pass by pass, and its lines at warning level or above."""
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    passes = [(int(m[1]), int(m[2])) for line in lines if (m := PURGED.fullmatch(line["message"]))]
    return passes, [line for line in lines if line["level"] not in {"debug", "info"}]


async def test_two_instances_purging_at_once_bury_each_task_once_then_forget_it(
    admin: asyncpg.Connection, migrated: str, tmp_path: Path
) -> None:
    expired = [row for user in USERS for row in await trash(admin, user, 1500)]  # 12 batches of 500
    recent = [row for user in USERS for row in await trash(admin, user, 1)]  # deleted just now: stays
    env = {
        **clean_env(),
        "DATABASE_URL": migrated,
        "BETTER_AUTH_SECRET": SECRET,
        "WORKERS": "1",
        "LOG_FORMAT": "json",
        "PURGE_INTERVAL_SECONDS": "0.2",
        "DB_STATEMENT_TIMEOUT_MS": "60000",  # a purge waits at the gate below: however slow the machine
        **INSTANCE_RETENTION,
    }
    logs = [tmp_path / f"{name}.log" for name in INSTANCES]
    started = await asyncio.gather(
        *(
            asyncio.to_thread(start_server, {**env, "DB_APPLICATION_NAME": name}, tmp_path, log=log)
            for name, log in zip(INSTANCES, logs, strict=True)
        ),
        return_exceptions=True,
    )
    instances = [each[0] for each in started if not isinstance(each, BaseException)]
    try:
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed
        async with let_through_at_once(admin, "trashed_tasks"):
            await admin.execute(
                "UPDATE trashed_tasks SET deleted_at = deleted_at - interval '25 hours' WHERE id = any($1::uuid[])",
                [task_id for _user, task_id, _revision in expired],
            )
        await until(lambda: trash_gone(admin, expired))
        assert await tombstones(admin) == expired  # one each: the same ids and revisions, none twice
        assert await horizons(admin) == dict.fromkeys(USERS, 0)

        async with let_through_at_once(admin, "task_tombstones"):
            await admin.execute("UPDATE task_tombstones SET deleted_at = deleted_at - interval '2 days'")
        await until(lambda: nothing_buried(admin))
        assert await horizons(admin) == latest(expired)
        assert await rows(admin, "SELECT user_id, id, revision FROM trashed_tasks") == recent
    finally:
        exits = [stop(instance) for instance in instances]
    assert exits == [0, 0]
    reports = [purge_log(log) for log in logs]
    assert [complaints for _passes, complaints in reports] == [[], []]
    # Each instance purged trash and tombstones, and what the two say they purged adds up to each row once.
    shares = [[sum(column) for column in zip(*passes, strict=True)] for passes, _complaints in reports]
    assert all(trashed and forgotten for trashed, forgotten in shares), shares
    assert [sum(column) for column in zip(*shares, strict=True)] == [len(expired), len(expired)], shares


async def trash_gone(admin: asyncpg.Connection, expired: list[Row]) -> bool:
    ids = [task_id for _user, task_id, _revision in expired]
    return not await admin.fetchval("SELECT EXISTS (SELECT FROM trashed_tasks WHERE id = any($1::uuid[]))", ids)


async def nothing_buried(admin: asyncpg.Connection) -> bool:
    return not await admin.fetchval("SELECT EXISTS (SELECT FROM task_tombstones)")


# The purge itself, from two pools at once over the same rows, in small batches so they interleave.


async def purge_at_once(db: Database, other_db: Database, retention: Retention) -> list[Purged]:
    """A pass of each pool at once, then one more: a pass may leave a row it found taken to the next."""
    now = datetime.now(UTC) + LATER
    both = await asyncio.gather(purge(db, retention, now=now, batch=50), purge(other_db, retention, now=now, batch=50))
    return [*both, await purge(db, retention, now=now, batch=50)]


async def test_two_purges_at_once_share_the_rows_and_purge_each_once(
    admin: asyncpg.Connection, db: Database, other_db: Database
) -> None:
    expired = [row for user in USERS for row in await trash(admin, user, 500)]

    buried = await purge_at_once(db, other_db, BURY)
    assert sum(each.trashed_tasks for each in buried) == len(expired), buried
    assert all(each.trashed_tasks for each in buried[:2]), buried  # both took part
    assert await tombstones(admin) == expired
    assert await horizons(admin) == dict.fromkeys(USERS, 0)

    forgotten = await purge_at_once(db, other_db, FORGET)
    assert sum(each.tombstones for each in forgotten) == len(expired), forgotten
    assert all(each.tombstones for each in forgotten[:2]), forgotten
    assert await tombstones(admin) == []
    assert await horizons(admin) == latest(expired)


# A user's write holds their counter row from its first statement to its commit; the purge must
# neither wait for it nor give up on the other users because of it.


async def test_the_purge_passes_over_a_user_whose_write_is_under_way(
    admin: asyncpg.Connection, db: Database, migrated: str
) -> None:
    # The busy user's tasks were deleted first: their tombstones are the oldest, more than a batch.
    busy = await trash(admin, "busy", 30)
    idle = await trash(admin, "idle", 30)
    writer = await asyncpg.connect(asyncpg_dsn(migrated))
    write = writer.transaction()
    await write.start()
    try:
        await writer.execute("SELECT revision FROM task_counts WHERE user_id = 'busy' FOR UPDATE")
        async with asyncio.timeout(4):  # a purge waiting for the lock ends here (or at the statement timeout)
            purged = await purge(db, FORGET, now=datetime.now(UTC) + LATER, batch=10)
    finally:
        await write.rollback()
        await writer.close()
    assert purged == Purged(trashed_tasks=60, tombstones=30)
    assert await tombstones(admin) == busy  # buried, not forgotten: that would raise the horizon
    assert await horizons(admin) == {"busy": 0, "idle": latest(idle)["idle"]}

    assert await purge(db, FORGET, now=datetime.now(UTC) + LATER, batch=10) == Purged(trashed_tasks=0, tombstones=30)
    assert await tombstones(admin) == []
    assert await horizons(admin) == latest(busy + idle)


async def test_a_forgotten_list_deletion_raises_the_horizon(
    client: TestClient, db: Database, admin: asyncpg.Connection
) -> None:
    made = await client.post("/api/ann/lists", json={"name": "Errands"}, headers=bearer("ann"))
    assert made.status_code == 201
    since = made.json()["revision"]
    assert (await client.delete(f"/api/ann/lists/{made.json()['id']}", headers=bearer("ann"))).status_code == 204
    deleted = await admin.fetchval("SELECT revision FROM list_tombstones WHERE user_id = 'ann'")
    await admin.execute("UPDATE list_tombstones SET deleted_at = deleted_at - interval '3 days'")
    purged = await purge(db, FORGET)
    assert purged.list_tombstones == 1
    assert await admin.fetchval("SELECT count(*) FROM list_tombstones") == 0
    assert await admin.fetchval("SELECT horizon FROM task_counts WHERE user_id = 'ann'") >= deleted
    # A device that last synced before the deletion can no longer learn of it: it starts again.
    assert (await client.get("/api/ann/changes", params={"since": since}, headers=bearer("ann"))).status_code == 410
