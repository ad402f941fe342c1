"""Prometheus metrics: requests by route template and status, the pool, database errors; a switch."""

from __future__ import annotations

import asyncio
import re

from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from service.app import create_app
from service.db import pool as database
from service.db.pool import Database
from service.observability.metrics import Metrics
from tests.conftest import ALICE, TestClient, make_settings


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    before = (await client.get("/metrics")).text
    await client.get("/api/alice/tasks", headers=ALICE)
    await client.get("/api/alice/tasks")  # 401
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    labels = {"method": "GET", "path": "/api/{user_id}/tasks"}
    for status in ("200", "401"):
        counted = sample(after, "task_api_requests_total", status_code=status, **labels)
        assert counted == sample(before, "task_api_requests_total", status_code=status, **labels) + 1
    assert "alice" not in after  # templates, never a user's path
    assert re.search(r'task_api_request_duration_seconds_bucket\{.*path="/api/\{user_id\}/tasks"', after)


async def test_the_pool_is_visible(client: TestClient) -> None:
    text = (await client.get("/metrics")).text
    assert sample(text, "task_api_pool_max_connections") >= 10
    assert sample(text, "task_api_pool_connections") >= 1
    assert "task_api_pool_waiting_requests" in text


async def test_database_unavailability_is_counted(migrated: str) -> None:
    app = create_app(make_settings(migrated, db_pool_min_size=1, db_pool_max_size=1, db_pool_acquire_timeout=0.2))
    async with AsyncTestClient(app=app) as client:
        before = sample(
            (await client.get("/metrics")).text, "task_api_database_unavailable_total", error="TimeoutError"
        )
        db: Database = app.state.db
        held = await db.pool.acquire()
        try:
            response = await asyncio.wait_for(client.get("/api/alice/tasks", headers=ALICE), timeout=5)
            assert response.status_code == 503
        finally:
            await db.pool.release(held)
        after = sample((await client.get("/metrics")).text, "task_api_database_unavailable_total", error="TimeoutError")
    assert after == before + 1


async def test_requests_waiting_for_a_connection_are_counted(migrated: str) -> None:
    pool = await database.create_pool(make_settings(migrated, db_pool_min_size=1, db_pool_max_size=1))
    db = Database(pool, acquire_timeout=5)
    try:
        held = await pool.acquire()
        waiting = asyncio.create_task(db.fetchval("SELECT 1"))
        await asyncio.sleep(0.05)
        assert db.waiting == 1  # what task_api_pool_waiting_requests reports
        await pool.release(held)
        assert await asyncio.wait_for(waiting, timeout=5) == 1
        assert db.waiting == 0
    finally:
        await pool.close()


async def test_metrics_can_be_turned_off(migrated: str) -> None:
    async with AsyncTestClient(app=create_app(make_settings(migrated, metrics_enabled=False))) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200


async def test_each_app_counts_in_a_registry_of_its_own(migrated: str) -> None:
    first, second = create_app(make_settings(migrated)), create_app(make_settings(migrated))
    async with AsyncTestClient(app=first) as one, AsyncTestClient(app=second) as two:
        await one.get("/health")
        counted_by_first = sample((await one.get("/metrics")).text, "task_api_requests_total", path="/health")
        counted_by_second = sample((await two.get("/metrics")).text, "task_api_requests_total", path="/health")
    assert (counted_by_first, counted_by_second) == (1, 0)
    assert not [family.name for family in REGISTRY.collect() if family.name.startswith("task_api")]


async def test_a_stopped_app_no_longer_reports_its_pool(migrated: str) -> None:
    app = create_app(make_settings(migrated))
    metrics: Metrics = app.state.metrics
    async with AsyncTestClient(app=app):
        assert "task_api_pool_connections" in {family.name for family in metrics.registry.collect()}
    assert "task_api_pool_connections" not in {family.name for family in metrics.registry.collect()}
