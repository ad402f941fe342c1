"""Overload answers fast: a full pool and a statement past statement_timeout are a 503, never a hang."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db.pool import Database
from tests.conftest import ALICE, make_settings, problem_of


async def test_an_exhausted_pool_answers_503_after_the_acquire_timeout(migrated: str) -> None:
    app = create_app(make_settings(migrated, db_pool_min_size=1, db_pool_max_size=1, db_pool_acquire_timeout=0.3))
    async with AsyncTestClient(app=app) as client:
        db: Database = app.state.db
        held = await db.pool.acquire()  # what a slow request would do with the only connection
        try:
            started = time.monotonic()
            # Bounded, so a regression fails the test instead of hanging it.
            response = await asyncio.wait_for(client.get("/api/alice/tasks", headers=ALICE), timeout=5)
            waited = time.monotonic() - started
        finally:
            await db.pool.release(held)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert problem_of(response)["detail"] == "the database is unavailable; try again shortly"
        assert 0.3 <= waited < 3
        # The connection is back: the next request is served.
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200


@pytest.mark.direct  # statement_timeout as a connection setting, which PgBouncer refuses
async def test_a_statement_past_statement_timeout_is_cancelled_and_the_connection_reused(
    migrated: str, admin: asyncpg.Connection
) -> None:
    app = create_app(make_settings(migrated, db_pool_max_size=1, db_statement_timeout_ms=200))
    async with AsyncTestClient(app=app) as client:
        created = await client.post("/api/alice/tasks", json={"title": "locked"}, headers=ALICE)
        path = created.headers["location"]
        async with admin.transaction():
            # Another session holds the row, so the update waits until statement_timeout cancels it.
            await admin.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", created.json()["id"])
            started = time.monotonic()
            blocked = await asyncio.wait_for(client.patch(path, json={"title": "changed"}, headers=ALICE), timeout=5)
            waited = time.monotonic() - started
        assert blocked.status_code == 503
        assert blocked.headers["retry-after"] == "5"
        assert 0.2 <= waited < 3
        # Nothing half-happened, and the pool's only connection still works.
        after = await client.get(path, headers=ALICE)
        assert after.status_code == 200
        assert after.json()["title"] == "locked"
        assert (await client.patch(path, json={"title": "changed"}, headers=ALICE)).json()["title"] == "changed"


async def test_connections_the_server_dropped_while_idle_are_not_handed_to_a_request(
    migrated: str, admin: asyncpg.Connection
) -> None:
    # What Neon does to idle connections when it suspends a compute, and a restart does to all.
    app = create_app(make_settings(migrated, db_pool_min_size=3, db_application_name="dropped-while-idle"))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            "dropped-while-idle",
        )
        assert dropped >= 1
        await asyncio.sleep(0.2)  # the server's goodbye reaches the idle sockets
        for _ in range(5):
            response = await asyncio.wait_for(client.get("/api/alice/tasks", headers=ALICE), timeout=5)
            assert response.status_code == 200, response.text
