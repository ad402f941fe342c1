"""The API through a real PgBouncer in transaction mode (as behind Neon's -pooler host), its events
from the direct endpoint (EVENTS_DATABASE_URL), as the README tells an operator to set it up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import ALICE, SECRET
from tests.support.pgbouncer import PgBouncerError, pgbouncer
from tests.support.server import clean_env, start_server, stop
from tests.support.sse import open_events

pytestmark = pytest.mark.pgbouncer


@pytest.fixture(scope="module")
def base(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with pgbouncer(migrated) as pooled:
            env = {
                **clean_env(),
                "DATABASE_URL": pooled,
                "EVENTS_DATABASE_URL": migrated,
                "DB_STATEMENT_CACHE_SIZE": "0",
                "DB_STATEMENT_TIMEOUT_MS": "0",
                "BETTER_AUTH_SECRET": SECRET,
            }
            process, url = start_server(env, tmp_path_factory.mktemp("pooled"))
            yield url
            assert stop(process) == 0
    except PgBouncerError as exc:
        pytest.fail(f"{exc} (make test-pgbouncer needs it)")


async def test_writes_through_the_pooler_are_announced_and_reminders_fire(base: str, http: httpx.AsyncClient) -> None:
    async with open_events(http, base, "alice", ALICE) as stream:
        assert (await stream.next()).event == "ready"
        due = datetime.fromtimestamp(time.time() + 1.5, UTC)
        created = await http.post(
            f"{base}/api/alice/tasks",
            json={"title": "pooled", "due_at": due.isoformat(), "reminders": [0]},
            headers=ALICE,
        )
        assert created.status_code == 201
        changed = await stream.next_of("changed")
        assert changed.json() == {"revision": created.json()["revision"]}
        reminder = await stream.next_of("reminder", within=5)
        assert reminder.json()["task_id"] == created.json()["id"]
        assert reminder.at <= due.timestamp() + 1.0
