"""A repeat that arrives while the first request with its key still runs is refused (409), never run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from service.db.urls import asyncpg_dsn
from tests.conftest import bearer
from tests.idempotency.test_replay import assert_replayed

KEY = {"Idempotency-Key": "one-request"}


@pytest.fixture
async def blocker(migrated: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to hold a row lock that keeps a request waiting."""
    connection = await asyncpg.connect(asyncpg_dsn(migrated))
    yield connection
    await connection.close()


async def new_task(http: httpx.AsyncClient, title: str = "Buy milk") -> dict[str, Any]:
    created = await http.post("/tasks", json={"title": title})
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


async def hold_row(blocker: asyncpg.Connection, task: dict[str, Any]) -> asyncpg.transaction.Transaction:
    """Lock the task's row until the returned transaction ends: a write to it waits till then."""
    held = blocker.transaction()
    await held.start()
    await blocker.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", UUID(task["id"]))
    return held


async def wait_until_blocked(admin: asyncpg.Connection, blocker: asyncpg.Connection) -> None:
    """Until a request waits for the row the blocker holds: it is inside its transaction, holding its key."""
    deadline = time.monotonic() + 5
    query = "SELECT count(*) FROM pg_stat_activity WHERE $1 = any(pg_blocking_pids(pid))"
    while not await admin.fetchval(query, blocker.get_server_pid()):
        assert time.monotonic() < deadline, "the request never reached the locked row"
        await asyncio.sleep(0.02)


async def test_a_repeat_while_the_first_runs_is_409_and_then_gets_its_answer(
    http: httpx.AsyncClient, admin: asyncpg.Connection, blocker: asyncpg.Connection
) -> None:
    task = await new_task(http)
    path = f"/tasks/{task['id']}"
    held = await hold_row(blocker, task)
    first = asyncio.ensure_future(http.patch(path, json={"title": "first"}, headers=KEY))
    try:
        await wait_until_blocked(admin, blocker)
        for body in ({"title": "first"}, {"title": "another body"}):  # a repeat, or a misuse: neither runs
            started = time.monotonic()
            refused = await http.patch(path, json=body, headers=KEY)
            assert time.monotonic() - started < 1  # refused at once, not after waiting for the first
            assert refused.status_code == 409
            assert refused.headers["retry-after"] == "1"
            assert "still running" in refused.json()["detail"]
        assert not first.done()
    finally:
        await held.rollback()
    answered = await first
    assert answered.status_code == 200
    assert answered.json()["title"] == "first"
    assert_replayed(answered, await http.patch(path, json={"title": "first"}, headers=KEY))


async def test_another_users_request_with_the_same_key_does_not_wait_for_it(
    http: httpx.AsyncClient, service: str, admin: asyncpg.Connection, blocker: asyncpg.Connection
) -> None:
    # Keys belong to one user. (A request of the same user with another key would wait too, but
    # for the user's revision counter, which one user's writes take in turns: sql/tasks.sql.)
    someone = f"idem-{uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=f"{service}/api/{someone}", headers=bearer(someone), timeout=10) as theirs:
        waiting, other = await new_task(http, "waits"), await new_task(theirs, "other")
        held = await hold_row(blocker, waiting)
        first = asyncio.ensure_future(http.patch(f"/tasks/{waiting['id']}", json={"title": "x"}, headers=KEY))
        try:
            await wait_until_blocked(admin, blocker)
            answer = await theirs.patch(f"/tasks/{other['id']}", json={"title": "y"}, headers=KEY)
            assert answer.status_code == 200
            assert not first.done()
        finally:
            await held.rollback()
    assert (await first).status_code == 200
