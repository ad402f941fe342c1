"""Liveness, readiness, and what clients see while the database is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import migrations
from service.db.urls import asyncpg_dsn
from tests.conftest import ALICE, TestClient, make_settings, problem_of
from tests.support.proxy import PostgresProxy


async def test_liveness_and_readiness(client: TestClient) -> None:
    live = await client.get("/health")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_readiness_is_503_until_the_schema_is_migrated(scratch_url: str) -> None:
    async with AsyncTestClient(app=create_app(make_settings(scratch_url))) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "not migrated" in response.json()["detail"]
        assert (await client.get("/health")).status_code == 200

        migrations.apply(scratch_url)
        assert (await client.get("/health/ready")).status_code == 200


@pytest.fixture
def proxy(migrated: str) -> Iterator[PostgresProxy]:
    proxy = PostgresProxy(migrated)
    proxy.start()
    yield proxy
    proxy.close()


async def test_database_outage_is_503_fast_and_recovers_by_itself(proxy: PostgresProxy) -> None:
    settings = make_settings(proxy.url, db_pool_acquire_timeout=1.0, db_command_timeout=2.0)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.post("/api/alice/tasks", json={"title": "before"}, headers=ALICE)).status_code == 201

        proxy.stop()
        started = time.monotonic()
        for call in (
            client.get("/api/alice/tasks", headers=ALICE),
            client.post("/api/alice/tasks", json={"title": "during"}, headers=ALICE),
        ):
            response = await call
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"] == "the database is unavailable; try again shortly"
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert (await client.get("/health")).status_code == 200
        assert time.monotonic() - started < 10

        proxy.start()
        deadline = time.monotonic() + 10
        while (await client.get("/health/ready")).status_code != 200:
            assert time.monotonic() < deadline, "did not recover within 10 s"
            await asyncio.sleep(0.2)
        titles = [task["title"] for task in (await client.get("/api/alice/tasks", headers=ALICE)).json()]
        assert "before" in titles


async def test_an_unexpected_error_is_a_500_that_reveals_nothing(
    scratch_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrations.apply(scratch_url)
    connection = await asyncpg.connect(asyncpg_dsn(scratch_url))
    try:
        # Schema drift the code does not expect: the query now fails inside PostgreSQL.
        await connection.execute("ALTER TABLE tasks RENAME COLUMN title TO name")
    finally:
        await connection.close()
    async with AsyncTestClient(app=create_app(make_settings(scratch_url))) as client:
        response = await client.get("/api/alice/tasks", headers=ALICE)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_of(response) == {
        "status": 500,
        "title": "Internal Server Error",
        "detail": "the server failed to handle this request; it has been logged",
    }
    # The log says everything the response does not.
    assert "UndefinedColumnError" in caplog.text
    assert "Traceback" in caplog.text
