"""The LISTEN connection lost under open streams, and found again: every stream then gets a
``changed`` with its user's revision, and what was written meanwhile is all in /changes.

On a PostgreSQL of this module's own: restarting the session's shared one would break every
other test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from service.db.urls import asyncpg_dsn
from tests.conftest import ALICE, BOB, bearer
from tests.events.conftest import service_env
from tests.support.local_postgres import LocalPostgres, migrated_local_postgres
from tests.support.server import start_server, stop
from tests.support.sse import EventStream, open_events

pytestmark = pytest.mark.direct  # it stops the server it serves from; PgBouncer would hide that

RECOVERY = 15.0  # seconds within which the streams hear of the recovery


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    with migrated_local_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def base(postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("recovery")
    env = service_env(postgres.url("tcp"), DB_POOL_ACQUIRE_TIMEOUT="1", DB_COMMAND_TIMEOUT="2")
    process, url = start_server(env, directory)
    yield url
    assert stop(process) == 0


@pytest.fixture
async def admin(postgres: LocalPostgres) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(postgres.url("tcp")))
    yield connection
    await connection.close()


async def write_until_it_works(http: httpx.AsyncClient, base: str, user: str, title: str) -> str:
    """Create a task, retrying while the database is away (503); its id."""
    async with asyncio.timeout(RECOVERY):
        while True:
            try:
                response = await http.post(f"{base}/api/{user}/tasks", json={"title": title}, headers=bearer(user))
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 201:
                task_id: str = response.json()["id"]
                return task_id
            await asyncio.sleep(0.2)


async def caught_up(http: httpx.AsyncClient, base: str, user: str, stream: EventStream, since: int) -> set[str]:
    """Wait for the stream's next ``changed``, then read /changes since ``since``: the ids it holds."""
    changed = await stream.next_of("changed", within=RECOVERY)
    feed = (await http.get(f"{base}/api/{user}/changes", params={"since": since}, headers=bearer(user))).json()
    assert feed["revision"] >= int(changed.id or 0)
    return {task["id"] for task in feed["tasks"]}


async def ready(stream: EventStream) -> int:
    event = await stream.next()
    assert event.event == "ready"
    revision: int = event.json()["revision"]
    return revision


async def test_the_listen_connection_killed_under_open_streams(base: str, admin: asyncpg.Connection) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        open_events(http, base, "alice", ALICE) as alice,
        open_events(http, base, "bob", BOB) as bob,
    ):
        since = {"alice": await ready(alice), "bob": await ready(bob)}
        listeners = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'task-api-events' AND pid <> pg_backend_pid()"
        )
        assert len(listeners) == 1  # one for the process, however many streams
        # The kill and a write of each user in one round trip: the writes commit before the
        # process can listen again, so only its catching up can tell the streams of them.
        written = await admin.fetch(
            """
            WITH killed AS (SELECT pg_terminate_backend($1))
            INSERT INTO tasks (user_id, title)
            SELECT user_id, 'meanwhile' FROM unnest('{alice,bob}'::text[]) AS user_id, killed
            RETURNING user_id, id::text
            """,
            listeners[0]["pid"],
        )
        assert len(written) == 2
        for user, stream in (("alice", alice), ("bob", bob)):
            mine = {row["id"] for row in written if row["user_id"] == user}
            assert mine <= await caught_up(http, base, user, stream, since[user])
        # listening again: the next write is announced as ever
        await write_until_it_works(http, base, "alice", "after")
        assert (await alice.next_of("changed", within=5)).event == "changed"
        exposition = (await http.get(f"{base}/metrics")).text
        assert "\ntask_api_events_listen_connections_total 2.0\n" in exposition
        assert "\ntask_api_events_listening 1.0\n" in exposition


async def test_postgres_restarted_under_open_streams(base: str, postgres: LocalPostgres) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        open_events(http, base, "alice", ALICE) as alice,
        open_events(http, base, "alice", ALICE) as again,
    ):
        since = await ready(alice)
        await ready(again)
        await asyncio.to_thread(postgres.stop, "fast")
        await asyncio.sleep(1)
        await asyncio.to_thread(postgres.start)
        written = {await write_until_it_works(http, base, "alice", f"after the restart {n}") for n in range(3)}
        for stream in (alice, again):
            assert written <= await caught_up(http, base, "alice", stream, since)
        assert not alice.ended.is_set()  # the streams stayed open throughout
