"""A real PostgreSQL for the whole session: embedded in a temporary directory, or TEST_DATABASE_URL.

TEST_DATABASE_URL's database is wiped: the suite migrates it and truncates tasks before every test.

With TEST_THROUGH_PGBOUNCER=1 (make test-pgbouncer) every app the tests build on the session's
database reaches it through a real PgBouncer in transaction mode, as behind Neon's pooled
endpoint, configured as the README says (no statement cache, no statement_timeout at connect).
Migrations and the ``admin`` connection still go direct; tests marked ``direct`` are about the
direct connection itself and do not run then.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings, load_settings
from service.db import embedded, migrations
from service.db.urls import asyncpg_dsn
from service.http.auth import issue_token
from service.observability import logs

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
TestClient = AsyncTestClient[Litestar]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with embedded.temporary() as url:
        yield url


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrations.apply(database_url)
    return database_url


THROUGH_PGBOUNCER = os.environ.get("TEST_THROUGH_PGBOUNCER") == "1"
_POOLED_URLS: dict[str, str] = {}  # the session database's direct URL -> PgBouncer's


@pytest.fixture(scope="session", autouse=THROUGH_PGBOUNCER)
def _through_pgbouncer(migrated: str) -> Iterator[None]:
    from tests.support.pgbouncer import pgbouncer

    with pgbouncer(migrated, pool_size=10) as pooled_url:
        _POOLED_URLS[migrated] = pooled_url
        yield
        _POOLED_URLS.clear()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    base = load_settings(environ={}, env_file=os.devnull)
    # The suite sends far more requests per user than a person would; tests/test_rate_limit.py
    # turns limiting on with small numbers.
    # No background jobs: an app served in-process answers requests on the test's event loop but
    # runs its lifespan, and so its jobs, on the test client's own, and asyncpg's pool cannot serve
    # two loops at once. The live events (tests/events/) and the purge job
    # (tests/sync/test_purge_instances.py) are tested in real processes, and the purge also called.
    values: dict[str, Any] = {
        "database_url": database_url,
        "better_auth_secret": SECRET,
        "rate_limit_per_minute": 0,
        "events_enabled": False,
        "purge_interval_seconds": 0,
    }
    if database_url in _POOLED_URLS:  # events listen on the direct endpoint, as the README says
        values.update(
            database_url=_POOLED_URLS[database_url],
            db_statement_cache_size=0,
            db_statement_timeout_ms=0,
            events_database_url=database_url,
        )
    values.update(overrides)
    return msgspec.structs.replace(base, **values)


@pytest.fixture(scope="session")
def settings(migrated: str) -> Settings:
    return make_settings(migrated)


@pytest.fixture(scope="session")
async def _session_client(settings: Settings) -> AsyncIterator[TestClient]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def admin(migrated: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for arranging and inspecting rows behind the API's back."""
    connection = await asyncpg.connect(asyncpg_dsn(migrated))
    yield connection
    await connection.close()


# Empties every table holding users' data (those with a user_id column, so a table added later is
# wiped too), in one statement, as tables that refer to tasks must be. Not task_counts: the
# TRUNCATE trigger of tasks empties it, which it cannot do to a table the statement holds.
WIPE = """
    SELECT format('TRUNCATE %s', string_agg(format('%I', table_name), ', '))
    FROM information_schema.columns
    WHERE table_schema = 'public' AND column_name = 'user_id' AND table_name <> 'task_counts'
"""


async def wipe(admin: asyncpg.Connection) -> None:
    """Empty every table of users' data: tasks, trash, tombstones, counters and the rest."""
    await admin.execute(await admin.fetchval(WIPE))


@pytest.fixture
async def client(_session_client: TestClient, admin: asyncpg.Connection) -> TestClient:
    """The app, served in-process, over no user data at all."""
    await wipe(admin)
    return _session_client


def bearer(user_id: str, secret: str = SECRET, **kwargs: Any) -> dict[str, str]:
    settings = msgspec.structs.replace(load_settings(environ={}, env_file=os.devnull), better_auth_secret=secret)
    return {"Authorization": f"Bearer {issue_token(settings, user_id, **kwargs)}"}


ALICE = bearer("alice")
BOB = bearer("bob")


@pytest.fixture
async def scratch_url(admin: asyncpg.Connection, migrated: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards."""
    name = f"task_api_scratch_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(migrated)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def create(client: TestClient, title: str = "Buy milk", **fields: Any) -> dict[str, Any]:
    """One of alice's tasks, made through the API; a create that is not a 201 fails the test."""
    response = await client.post("/api/alice/tasks", json={"title": title, **fields}, headers=ALICE)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_of(response: Any) -> dict[str, Any]:
    """A problem body without its request_id, once that is checked to be the response's X-Request-ID."""
    body: dict[str, Any] = dict(response.json())
    assert body.pop("request_id") == response.headers["x-request-id"]
    return body


class CapturedLog:
    """Our log handler on the root logger, writing JSON lines to memory."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logs.handler("json", self.stream)

    def lines(self) -> list[dict[str, Any]]:
        self.handler.flush()
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def json_log() -> Iterator[CapturedLog]:
    captured = CapturedLog()
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.INFO)
    yield captured
    root.removeHandler(captured.handler)
    root.setLevel(saved_level)
    captured.handler.close()
