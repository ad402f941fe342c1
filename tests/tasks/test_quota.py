"""A user has at most MAX_TASKS_PER_USER tasks, counted by the database, even under concurrent creates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db.urls import asyncpg_dsn
from service.tasks import queries
from service.tasks.schemas import TaskCreate
from tests.conftest import ALICE, BOB, TestClient, make_settings, problem_of, wipe

QUOTA = 3


@pytest.fixture
async def capped(migrated: str, admin: asyncpg.Connection) -> AsyncIterator[TestClient]:
    await wipe(admin)
    async with AsyncTestClient(app=create_app(make_settings(migrated, max_tasks_per_user=QUOTA))) as client:
        yield client


async def create(client: TestClient, title: str = "t", headers: dict[str, str] = ALICE) -> int:
    return (
        await client.post(
            f"/api/{'alice' if headers is ALICE else 'bob'}/tasks", json={"title": title}, headers=headers
        )
    ).status_code


async def test_creates_up_to_the_quota_then_409(capped: TestClient, admin: asyncpg.Connection) -> None:
    assert [await create(capped) for _ in range(QUOTA)] == [201] * QUOTA  # at the limit
    response = await capped.post("/api/alice/tasks", json={"title": "one more"}, headers=ALICE)
    assert response.status_code == 409  # past it
    assert "3 tasks, the most one user may have" in problem_of(response)["detail"]
    assert await admin.fetchval("SELECT count(*) FROM tasks WHERE user_id = 'alice'") == QUOTA
    assert await create(capped, headers=BOB) == 201  # per user


async def test_deleting_frees_room(capped: TestClient) -> None:
    for _ in range(QUOTA):
        await create(capped)
    tasks = (await capped.get("/api/alice/tasks", headers=ALICE)).json()
    await capped.delete(f"/api/alice/tasks/{tasks[0]['id']}", headers=ALICE)
    assert await create(capped) == 201
    for task in tasks[1:]:
        await capped.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    assert (await capped.delete("/api/alice/tasks", params={"completed": "true"}, headers=ALICE)).json() == {
        "deleted": 2
    }
    assert [await create(capped) for _ in range(3)] == [201, 201, 409]


async def test_the_count_follows_every_insert_and_delete(admin: asyncpg.Connection) -> None:
    await wipe(admin)
    await admin.execute("INSERT INTO tasks (user_id, title) SELECT 'u' || n % 3, 't' FROM generate_series(1, 30) n")
    await admin.execute("DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE user_id = 'u0' LIMIT 4)")
    counts = dict(await admin.fetch("SELECT user_id, tasks FROM task_counts ORDER BY user_id"))
    actual = dict(await admin.fetch("SELECT user_id, count(*)::int FROM tasks GROUP BY user_id"))
    assert counts == actual == {"u0": 6, "u1": 10, "u2": 10}
    await wipe(admin)
    assert await admin.fetchval("SELECT count(*) FROM task_counts") == 0


async def test_concurrent_creates_never_pass_the_quota(migrated: str, admin: asyncpg.Connection) -> None:
    await wipe(admin)
    await admin.execute("INSERT INTO tasks (user_id, title) VALUES ('alice', 'first')")  # the count row exists
    pool = await asyncpg.create_pool(asyncpg_dsn(migrated), min_size=10, max_size=10)
    try:
        created = await asyncio.gather(
            *(
                queries.create_task(pool, user_id="alice", data=TaskCreate(title=f"racer {n}"), quota=5)
                for n in range(20)
            )
        )
    finally:
        await pool.close()
    assert sum(task is not None for task in created) == 4
    assert await admin.fetchval("SELECT count(*) FROM tasks WHERE user_id = 'alice'") == 5
    assert await admin.fetchval("SELECT tasks FROM task_counts WHERE user_id = 'alice'") == 5
