"""The case keys are for: a create committed, its answer was lost on the way, and the client retries.

The real service runs as a process behind a TCP proxy that lets each request through and cuts the
client's connection as soon as the service starts answering: the write has committed (the service
sends nothing before its commit), and the client has only a dropped connection to show for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import bearer
from tests.support.proxy import AnswerLosingProxy


@pytest.fixture
def lossy(service: str) -> Iterator[AnswerLosingProxy]:
    proxy = AnswerLosingProxy(service)
    proxy.start()
    yield proxy
    proxy.close()


async def task_ids(admin: asyncpg.Connection, user_id: str) -> list[UUID]:
    return [row["id"] for row in await admin.fetch("SELECT id FROM tasks WHERE user_id = $1", user_id)]


async def test_a_retry_after_a_lost_answer_gets_that_answer_and_makes_no_second_task(
    lossy: AnswerLosingProxy, service: str, user_id: str, admin: asyncpg.Connection
) -> None:
    path = f"/api/{user_id}/tasks"
    headers = {**bearer(user_id), "Idempotency-Key": "b1d2a0c4-lost-on-the-way"}
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.TransportError):  # the client never learns that it worked
            await client.post(f"{lossy.base}{path}", json={"title": "Buy milk"}, headers=headers)
        assert lossy.lost == 1
        [committed] = await task_ids(admin, user_id)

        lossy.losing = False  # the network is back: retry through it
        retried = await client.post(f"{lossy.base}{path}", json={"title": "Buy milk"}, headers=headers)
        direct = await client.post(f"{service}{path}", json={"title": "Buy milk"}, headers=headers)

    for answer in (retried, direct):
        assert answer.status_code == 201
        assert answer.headers["idempotent-replayed"] == "true"
        assert answer.headers["location"] == f"{path}/{committed}"
        assert answer.json()["id"] == str(committed)
    assert retried.content == direct.content
    assert await task_ids(admin, user_id) == [committed]  # one task, however many tries


async def test_without_a_key_the_lost_answers_write_has_committed(
    lossy: AnswerLosingProxy, user_id: str, admin: asyncpg.Connection
) -> None:
    # What a blind retry would then duplicate: the write the client could not see succeed.
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.TransportError):
            await client.post(f"{lossy.base}/api/{user_id}/tasks", json={"title": "x"}, headers=bearer(user_id))
    assert lossy.lost == 1
    assert len(await task_ids(admin, user_id)) == 1
