"""Database.transaction(): one pooled connection whose statements commit or roll back as a unit."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from service.db.pool import DATABASE_UNAVAILABLE, Database, PinnedDatabase, create_pool
from service.db.statements import Executor, ValSQL
from service.tasks import queries
from service.tasks.schemas import TaskCreate, TaskStats
from tests.conftest import make_settings

ACQUIRE_TIMEOUT = 0.3


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    """A Database over a pool of one connection: whatever a transaction fails to give back is missed."""
    pool = await create_pool(make_settings(migrated, db_pool_min_size=1, db_pool_max_size=1))
    try:
        yield Database(pool, acquire_timeout=ACQUIRE_TIMEOUT)
    finally:
        await pool.close()


@pytest.fixture
def user_id() -> str:
    return f"tx-{uuid.uuid4().hex[:12]}"


async def tasks_of(admin: asyncpg.Connection, user_id: str) -> list[str]:
    return [row["title"] for row in await admin.fetch("SELECT title FROM tasks WHERE user_id = $1", user_id)]


async def create_and_then(db: Database, user_id: str, second: Callable[[Executor], Awaitable[object]]) -> None:
    """Create one of the user's tasks, then run ``second``, in one transaction."""
    async with db.transaction() as tx:
        assert await queries.create_task(tx, user_id=user_id, data=TaskCreate(title="first"), quota=10)
        await second(tx)


async def test_a_failure_in_the_second_statement_leaves_nothing_of_the_first(
    db: Database, admin: asyncpg.Connection, user_id: str
) -> None:
    def unknown_zone(tx: Executor) -> Awaitable[TaskStats]:
        return queries.task_stats(tx, user_id=user_id, time_zone="Mars/Olympus_Mons")

    with pytest.raises(asyncpg.InvalidParameterValueError, match="time zone"):
        await create_and_then(db, user_id, unknown_zone)
    assert await tasks_of(admin, user_id) == []
    assert await admin.fetchval("SELECT tasks FROM task_counts WHERE user_id = $1", user_id) in {None, 0}
    stats = await queries.task_stats(db, user_id=user_id, time_zone="UTC")  # the only connection is back
    assert stats.total == 0


async def test_a_success_commits_both_statements_at_the_end(
    db: Database, admin: asyncpg.Connection, user_id: str
) -> None:
    async with db.transaction() as tx:
        await queries.create_task(tx, user_id=user_id, data=TaskCreate(title="first"), quota=10)
        await queries.create_task(tx, user_id=user_id, data=TaskCreate(title="second"), quota=10)
        assert await tasks_of(admin, user_id) == []  # another session sees nothing before the commit
        stats = await queries.task_stats(tx, user_id=user_id, time_zone="UTC")
        assert stats.total == 2  # the transaction sees its own writes
    assert sorted(await tasks_of(admin, user_id)) == ["first", "second"]


async def test_a_transaction_waits_for_a_connection_no_longer_than_a_statement(db: Database) -> None:
    held = await db.pool.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):  # what the service answers with a 503
            async with db.transaction():
                pytest.fail("the transaction got a connection the pool did not have")
        assert ACQUIRE_TIMEOUT <= time.monotonic() - started < 3
        assert db.waiting == 0
    finally:
        await db.pool.release(held)
    async with db.transaction() as tx:
        assert await tx.fetchval(ValSQL("SELECT 1")) == 1


@pytest.mark.direct  # ends the server process behind the connection, which PgBouncer would hide
@pytest.mark.parametrize("while_running", [False, True], ids=["between statements", "during a statement"])
async def test_a_connection_lost_in_a_transaction_is_unavailable_and_replaced(
    db: Database, admin: asyncpg.Connection, user_id: str, while_running: bool
) -> None:
    async def lose_the_connection(tx: Executor) -> None:
        backend = await tx.fetchval(ValSQL("SELECT pg_backend_pid()"))
        if while_running:
            sleeping = asyncio.ensure_future(tx.fetchval(ValSQL("SELECT pg_sleep(5)")))
            await asyncio.sleep(0.2)  # the statement reaches the server
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        if while_running:
            await sleeping
        await asyncio.sleep(0.2)  # the server's goodbye reaches the socket
        await queries.task_stats(tx, user_id=user_id, time_zone="UTC")

    with pytest.raises(DATABASE_UNAVAILABLE):
        await create_and_then(db, user_id, lose_the_connection)
    assert await tasks_of(admin, user_id) == []
    async with db.transaction() as tx:  # the pool opened a new connection
        assert await tx.fetchval(ValSQL("SELECT 1")) == 1


async def write_pinned_then_fail(db: Database, user_id: str) -> None:
    async with db.transaction() as tx:
        pinned = PinnedDatabase(db, tx)
        assert await queries.create_task(pinned, user_id=user_id, data=TaskCreate(title="pinned"), quota=10)
        assert (await queries.task_stats(pinned, user_id=user_id, time_zone="UTC")).total == 1
        raise RuntimeError("after the write")


async def test_a_pinned_database_runs_its_statements_in_the_transaction_that_pinned_it(
    db: Database, admin: asyncpg.Connection, user_id: str
) -> None:
    with pytest.raises(RuntimeError, match="after the write"):
        await write_pinned_then_fail(db, user_id)
    assert await tasks_of(admin, user_id) == []  # rolled back with the transaction that pinned it


async def write_in_a_transaction_then_fail(pinned: Database, user_id: str) -> None:
    async with pinned.transaction() as inner:
        await queries.create_task(inner, user_id=user_id, data=TaskCreate(title="undone"), quota=10)
        raise RuntimeError("inner")


async def test_a_pinned_databases_transaction_rolls_back_alone_and_commits_with_its_callers(
    db: Database, admin: asyncpg.Connection, user_id: str
) -> None:
    async with db.transaction() as tx:
        pinned = PinnedDatabase(db, tx)
        with pytest.raises(RuntimeError, match="inner"):
            await write_in_a_transaction_then_fail(pinned, user_id)
        async with pinned.transaction() as inner:
            await queries.create_task(inner, user_id=user_id, data=TaskCreate(title="kept"), quota=10)
        assert await tasks_of(admin, user_id) == []  # nothing committed before the caller's transaction ends
    assert await tasks_of(admin, user_id) == ["kept"]
