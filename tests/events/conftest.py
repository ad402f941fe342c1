"""Real service processes for the live-events tests, on the session's database.

Through PgBouncer (make test-pgbouncer) they serve through it and listen on the direct endpoint,
as the README tells an operator to; otherwise both go direct.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import _POOLED_URLS, SECRET, wipe
from tests.support.server import clean_env, start_server, stop


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a service process serving ``database_url``'s data, plus ``settings``."""
    env = {
        **clean_env(),
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": SECRET,
        "RATE_LIMIT_PER_MINUTE": "0",
        "ACCESS_LOG": "false",
    }
    if database_url in _POOLED_URLS:
        env.update(
            DATABASE_URL=_POOLED_URLS[database_url],
            EVENTS_DATABASE_URL=database_url,
            DB_STATEMENT_CACHE_SIZE="0",
            DB_STATEMENT_TIMEOUT_MS="0",
        )
    return {**env, **settings}


@pytest.fixture(scope="module")
def instances(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Three service processes on one database, for the module; their base URLs."""
    directory = tmp_path_factory.mktemp("instances")
    started = [start_server(service_env(migrated), directory) for _ in range(3)]
    try:
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            assert stop(process) == 0


@pytest.fixture
async def http(admin: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """A client, with no user data behind it."""
    await wipe(admin)
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def revision_of(admin: asyncpg.Connection, user_id: str) -> int:
    """The user's revision, read behind the API's back."""
    return await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = $1", user_id) or 0


def log_of(directory: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(directory.glob("service-*.log")))
