"""A key's answer is replayed for 24 hours; after that the key runs afresh, and the purge removes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from service.db.pool import Database, create_pool
from service.db.urls import asyncpg_dsn
from service.idempotency.keys import LIFETIME
from service.idempotency.queries import purge_expired_keys
from tests.conftest import TestClient, make_settings
from tests.idempotency.test_replay import assert_replayed, count_tasks, keyed


async def age_keys(admin: asyncpg.Connection, by: timedelta) -> None:
    await admin.execute("UPDATE idempotency_keys SET created_at = created_at - $1::interval", by)


async def test_a_key_replays_until_24_hours_have_passed(client: TestClient, admin: asyncpg.Connection) -> None:
    first = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    await age_keys(admin, LIFETIME - timedelta(minutes=1))
    assert_replayed(first, await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed()))
    assert await count_tasks(admin) == 1


async def test_a_key_older_than_24_hours_runs_afresh_and_records_the_new_answer(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    first = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    await age_keys(admin, LIFETIME + timedelta(seconds=1))
    afresh = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    assert afresh.status_code == 201
    assert "idempotent-replayed" not in afresh.headers
    assert afresh.json()["id"] != first.json()["id"]
    assert await count_tasks(admin) == 2
    assert await admin.fetchval("SELECT location FROM idempotency_keys") == afresh.headers["location"]
    assert_replayed(afresh, await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed()))


async def test_an_expired_key_may_be_used_for_another_request(client: TestClient, admin: asyncpg.Connection) -> None:
    await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    await age_keys(admin, LIFETIME + timedelta(seconds=1))
    other = await client.post("/api/alice/tasks", json={"title": "Buy bread"}, headers=keyed())
    assert other.status_code == 201  # not 422: the old request is forgotten


async def insert_keys(admin: asyncpg.Connection, count: int, age: timedelta, prefix: str) -> None:
    await admin.execute(
        """
        INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
        SELECT 'user-' || n % 7, $3 || n, sha256(n::text::bytea), 201, '{}', now() - $2::interval
        FROM generate_series(1, $1) AS n
        """,
        count,
        age,
        prefix,
    )


async def keys_left(admin: asyncpg.Connection, prefix: str) -> int:
    count: int = await admin.fetchval("SELECT count(*) FROM idempotency_keys WHERE key LIKE $1 || '%'", prefix)
    return count


@pytest.fixture
async def no_keys(admin: asyncpg.Connection) -> None:
    await admin.execute("TRUNCATE idempotency_keys")


@pytest.mark.usefixtures("no_keys")
async def test_the_purge_deletes_only_expired_keys_a_batch_at_a_time(admin: asyncpg.Connection) -> None:
    await insert_keys(admin, 5, LIFETIME + timedelta(minutes=1), "old-")
    await insert_keys(admin, 3, LIFETIME - timedelta(minutes=1), "young-")
    batches = [await purge_expired_keys(admin, older_than=LIFETIME, batch=2) for _ in range(4)]
    assert batches == [2, 2, 1, 0]  # called until it returns less than the batch
    assert (await keys_left(admin, "old-"), await keys_left(admin, "young-")) == (0, 3)


@pytest.fixture
async def database(migrated: str) -> AsyncIterator[Database]:
    """A Database with a pool of its own, as a purge job would run on."""
    pool = await create_pool(make_settings(migrated, db_pool_min_size=2, db_pool_max_size=4))
    try:
        yield Database(pool, acquire_timeout=5)
    finally:
        await pool.close()


async def purge_all(db: Database, batch: int) -> int:
    purged = 0
    while (count := await purge_expired_keys(db, older_than=LIFETIME, batch=batch)) == batch:
        purged += count
    return purged + count


@pytest.mark.usefixtures("no_keys")
async def test_concurrent_purges_share_the_work_and_delete_each_key_once(
    admin: asyncpg.Connection, database: Database
) -> None:
    await insert_keys(admin, 2000, LIFETIME + timedelta(hours=1), "old-")
    purged = await asyncio.gather(*(purge_all(database, batch=50) for _ in range(3)))
    assert sum(purged) == 2000  # a key deleted twice would count twice; one missed would be left
    assert await keys_left(admin, "old-") == 0


@pytest.mark.usefixtures("no_keys")
async def test_the_purge_skips_a_key_a_request_holds_without_waiting(
    admin: asyncpg.Connection, database: Database, migrated: str
) -> None:
    await insert_keys(admin, 3, LIFETIME + timedelta(hours=1), "old-")
    request = await asyncpg.connect(asyncpg_dsn(migrated))
    try:
        held = request.transaction()
        await held.start()
        # A request replacing an expired key holds its row until it commits.
        await request.execute("SELECT 1 FROM idempotency_keys WHERE key = 'old-1' FOR UPDATE")
        started = time.monotonic()
        assert await purge_expired_keys(database, older_than=LIFETIME, batch=10) == 2
        assert time.monotonic() - started < 1
        await held.rollback()
    finally:
        await request.close()
    assert await purge_expired_keys(database, older_than=LIFETIME, batch=10) == 1  # once free, it goes
