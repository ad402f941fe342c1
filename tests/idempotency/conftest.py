"""The real service, as a process, for the tests that need requests to run at once or a real network.

The in-process test client runs one request at a time (each blocks the test's event loop until it
is answered), so a request waiting inside its transaction would hold the test up with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import httpx
import pytest

from tests.conftest import SECRET, bearer, make_settings
from tests.support.server import clean_env, served


@pytest.fixture(scope="package")
def service(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``task-api serve`` on the session's database (through PgBouncer when the suite is)."""
    settings = make_settings(migrated)
    env = {
        **clean_env(),
        "DATABASE_URL": settings.database_url,
        "DB_STATEMENT_CACHE_SIZE": str(settings.db_statement_cache_size),
        "DB_STATEMENT_TIMEOUT_MS": str(settings.db_statement_timeout_ms),
        "BETTER_AUTH_SECRET": SECRET,
        "RATE_LIMIT_PER_MINUTE": "0",
        "WORKERS": "1",
    }
    with served(env, tmp_path_factory.mktemp("idempotency")) as (_process, base):
        yield base


@pytest.fixture
def user_id() -> str:
    """A user of the test's own: the served service's tables are not emptied between tests."""
    return f"idem-{uuid4().hex[:12]}"


@pytest.fixture
async def http(service: str, user_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served service, as ``user_id``, under /api/{user_id}."""
    async with httpx.AsyncClient(base_url=f"{service}/api/{user_id}", headers=bearer(user_id), timeout=10) as client:
        yield client
