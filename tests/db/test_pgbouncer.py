"""The service behind a real PgBouncer in transaction mode, as behind Neon's pooled endpoint.

Needs the pgbouncer binary (Debian: apt-get install pgbouncer); `make test-pgbouncer` runs these,
and .ci/run installs it. Migrations go to the server directly, never through the pooler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, THROUGH_PGBOUNCER, make_settings
from tests.support.pgbouncer import PgBouncerError, pgbouncer

pytestmark = pytest.mark.pgbouncer


@pytest.fixture(scope="module")
def pooler_url(migrated: str) -> Iterator[str]:
    try:
        with pgbouncer(migrated) as url:
            yield url
    except PgBouncerError as exc:
        pytest.fail(f"{exc} (make test-pgbouncer needs it)")


def pooled(url: str, **overrides: Any) -> Any:
    """Settings as documented for a transaction pooler: no prepared-statement cache."""
    return make_settings(url, db_statement_cache_size=0, **overrides)


async def test_the_whole_api_works_through_the_pooler(pooler_url: str) -> None:
    async with AsyncTestClient(app=create_app(pooled(pooler_url, db_statement_timeout_ms=0))) as client:
        assert (await client.get("/health/ready")).status_code == 200
        created = await client.post("/api/alice/tasks", json={"title": "pooled"}, headers=ALICE)
        assert created.status_code == 201
        path = created.headers["location"]
        etag = created.headers["etag"]
        filtered = {"priority": ["high", "low"], "tag": "pool", "q": "pooled", "sort": "due_at", "limit": "1"}
        calls = [
            client.get("/api/alice/tasks", headers=ALICE),
            client.get(path, headers=ALICE),
            client.patch(path, json={"description": "via pgbouncer"}, headers={**ALICE, "If-Match": etag}),
            client.put(path, json={"title": "pooled again", "priority": "high", "tags": ["pool"]}, headers=ALICE),
            client.get("/api/alice/tasks", params=filtered, headers=ALICE),  # enum arrays, composed SQL
            client.get("/api/alice/tasks/stats", params={"tz": "Europe/Paris"}, headers=ALICE),
            client.get("/api/alice/tags", headers=ALICE),
            client.patch(f"{path}/complete", headers=ALICE),
            client.delete("/api/alice/tasks", params={"completed": "true"}, headers=ALICE),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 200, response.text
        assert (await client.get(path, headers=ALICE)).status_code == 404  # cleared as completed


async def test_many_concurrent_requests_share_few_server_connections(pooler_url: str) -> None:
    # 20 pooled client connections over PgBouncer's 5 server connections: statements of different
    # clients interleave on one server connection, which named prepared statements would not survive.
    app = create_app(pooled(pooler_url, db_statement_timeout_ms=0, db_pool_min_size=20, db_pool_max_size=20))
    async with AsyncTestClient(app=app) as client:
        created = await asyncio.gather(
            *(client.post("/api/alice/tasks", json={"title": f"t{n}"}, headers=ALICE) for n in range(40))
        )
        assert [response.status_code for response in created] == [201] * 40
        listed = await asyncio.gather(*(client.get("/api/alice/tasks", headers=ALICE) for _ in range(40)))
        assert all(response.status_code == 200 for response in listed)


async def test_statement_timeout_refused_at_connect_falls_back_with_a_warning(
    pooler_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The default settings send statement_timeout, which PgBouncer refuses at connect time.
    async with AsyncTestClient(app=create_app(pooled(pooler_url))) as client:
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200
    assert "ALTER ROLE <user> SET statement_timeout = '5000ms'" in caplog.text


async def test_the_suites_apps_reach_the_database_through_pgbouncer(migrated: str) -> None:
    # make test-pgbouncer sets TEST_THROUGH_PGBOUNCER=1: every other test's app then uses the pooler.
    assert THROUGH_PGBOUNCER, "make test-pgbouncer runs the suite with TEST_THROUGH_PGBOUNCER=1"
    settings = make_settings(migrated)
    assert settings.database_url != migrated
    assert (settings.db_statement_cache_size, settings.db_statement_timeout_ms) == (0, 0)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200
