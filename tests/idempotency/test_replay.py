"""A repeat of a keyed write gets the first answer again, and nothing runs twice."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, BOB, TestClient, bearer, create, make_settings, problem_of

KEY = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
JSON = {"Content-Type": "application/json"}


def keyed(token: dict[str, str] = ALICE, key: str = KEY) -> dict[str, str]:
    return {**token, "Idempotency-Key": key}


async def count_tasks(admin: asyncpg.Connection, user_id: str = "alice") -> int:
    count: int = await admin.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user_id)
    return count


async def stored(admin: asyncpg.Connection, task_id: str) -> dict[str, Any]:
    row = await admin.fetchrow("SELECT title, completed, updated_at FROM tasks WHERE id = $1", UUID(task_id))
    return dict(row) if row else {}


def assert_replayed(first: httpx.Response, again: httpx.Response) -> None:
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.status_code == first.status_code
    assert again.content == first.content
    for name in ("content-type", "location", "etag", "cache-control", "x-content-type-options"):
        assert again.headers.get(name) == first.headers.get(name), name
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # an answer of its own


async def test_a_repeated_create_gets_the_same_answer_and_makes_one_task(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    first = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    assert first.status_code == 201
    again = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    assert_replayed(first, again)
    assert again.headers["location"] == f"/api/alice/tasks/{first.json()['id']}"
    assert await count_tasks(admin) == 1


async def test_spacing_and_key_order_of_the_body_do_not_make_another_request(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    bodies = [
        b'{"title": "Buy milk", "description": "semi-skimmed", "tags": ["dairy"]}',
        b'{"tags":["dairy"],"description":"semi-skimmed","title":"Buy milk"}',
        b'\n{ "description" : "semi-skimmed" ,\n  "title" : "Buy milk", "tags" : [ "dairy" ] }\n',
    ]
    answers = [await client.post("/api/alice/tasks", content=body, headers={**keyed(), **JSON}) for body in bodies]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert_replayed(answers[0], answers[1])
    assert_replayed(answers[0], answers[2])
    assert await count_tasks(admin) == 1


async def test_another_users_identical_key_is_unrelated(client: TestClient, admin: asyncpg.Connection) -> None:
    alices = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed(ALICE))
    bobs = await client.post("/api/bob/tasks", json={"title": "Buy milk"}, headers=keyed(BOB))
    assert (alices.status_code, bobs.status_code) == (201, 201)
    assert "idempotent-replayed" not in bobs.headers
    assert bobs.json()["user_id"] == "bob"
    assert bobs.json()["id"] != alices.json()["id"]
    assert (await count_tasks(admin, "alice"), await count_tasks(admin, "bob")) == (1, 1)
    # And each user's repeat replays their own answer.
    again = await client.post("/api/bob/tasks", json={"title": "Buy milk"}, headers=keyed(BOB))
    assert_replayed(bobs, again)


async def test_the_same_key_with_another_body_path_or_method_is_422_and_writes_nothing(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    other = await create(client, "another")
    first = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    assert first.status_code == 201
    created = first.json()
    before = {task["id"]: await stored(admin, task["id"]) for task in (other, created)}
    attempts = [
        client.post("/api/alice/tasks", json={"title": "Buy oat milk"}, headers=keyed()),  # another body
        client.put(f"/api/alice/tasks/{created['id']}", json={"title": "Buy milk"}, headers=keyed()),  # method
        client.patch(f"/api/alice/tasks/{other['id']}", json={"title": "Buy milk"}, headers=keyed()),
        client.delete(f"/api/alice/tasks/{created['id']}", headers=keyed()),
        client.post("/api/alice/tasks?title=x", json={"title": "Buy milk"}, headers=keyed()),  # another query
    ]
    answers = [await attempt for attempt in attempts]
    assert [answer.status_code for answer in answers] == [422] * 5
    problem = problem_of(answers[0])
    assert problem["status"] == 422
    assert "Idempotency-Key was used for a different request" in problem["detail"]
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert await count_tasks(admin) == 2
    assert {task_id: await stored(admin, task_id) for task_id in before} == before


async def test_a_replace_replayed_runs_nothing(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    first = await client.put(f"/api/alice/tasks/{task['id']}", json={"title": "Buy oat milk"}, headers=keyed())
    assert first.status_code == 200
    written = await stored(admin, task["id"])
    await admin.execute("UPDATE tasks SET title = 'changed since' WHERE id = $1", UUID(task["id"]))
    again = await client.put(f"/api/alice/tasks/{task['id']}", json={"title": "Buy oat milk"}, headers=keyed())
    assert_replayed(first, again)
    assert (await stored(admin, task["id"]))["title"] == "changed since"  # the replace did not run again
    assert written["title"] == "Buy oat milk"


async def test_an_update_replayed_runs_nothing(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    first = await client.patch(f"/api/alice/tasks/{task['id']}", json={"completed": True}, headers=keyed())
    assert first.status_code == 200
    await admin.execute("UPDATE tasks SET completed = false WHERE id = $1", UUID(task["id"]))
    again = await client.patch(f"/api/alice/tasks/{task['id']}", json={"completed": True}, headers=keyed())
    assert_replayed(first, again)
    assert again.json()["completed"] is True
    assert (await stored(admin, task["id"]))["completed"] is False


async def test_a_toggle_replayed_does_not_toggle_again(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    toggles = [await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=keyed()) for _ in range(3)]
    assert [toggle.status_code for toggle in toggles] == [200, 200, 200]
    assert toggles[0].json()["completed"] is True
    assert_replayed(toggles[0], toggles[1])
    assert_replayed(toggles[0], toggles[2])
    assert (await stored(admin, task["id"]))["completed"] is True
    # A toggle with a new key is a new request: it runs.
    other = await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=keyed(key="another"))
    assert other.json()["completed"] is False


async def test_a_delete_replayed_answers_204_again_not_404(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    first = await client.delete(f"/api/alice/tasks/{task['id']}", headers=keyed())
    assert first.status_code == 204
    again = await client.delete(f"/api/alice/tasks/{task['id']}", headers=keyed())
    assert_replayed(first, again)
    assert again.content == b""
    assert await count_tasks(admin) == 0
    unkeyed = await client.delete(f"/api/alice/tasks/{task['id']}", headers=ALICE)
    assert unkeyed.status_code == 404  # without the key, a delete again is what the contract says


async def test_clearing_replayed_deletes_nothing_more(client: TestClient, admin: asyncpg.Connection) -> None:
    for title in ("one", "two"):
        await create(client, title)
    tasks = (await client.get("/api/alice/tasks", headers=ALICE)).json()
    await client.patch(f"/api/alice/tasks/{tasks[0]['id']}/complete", headers=ALICE)
    first = await client.delete("/api/alice/tasks?completed=true", headers=keyed())
    assert (first.status_code, first.json()) == (200, {"deleted": 1})
    await client.patch(f"/api/alice/tasks/{tasks[1]['id']}/complete", headers=ALICE)  # completed since
    again = await client.delete("/api/alice/tasks?completed=true", headers=keyed())
    assert_replayed(first, again)
    assert await count_tasks(admin) == 1  # the task completed since is still there


async def test_a_get_ignores_the_header_even_a_malformed_one(client: TestClient) -> None:
    task = await create(client)
    for key in ("", "a b", KEY):
        listed = await client.get("/api/alice/tasks", headers=keyed(key=key))
        fetched = await client.get(f"/api/alice/tasks/{task['id']}", headers=keyed(key=key))
        assert (listed.status_code, fetched.status_code) == (200, 200)
        assert "idempotent-replayed" not in fetched.headers


@pytest.mark.parametrize(
    "key",
    [b"", b"x" * 256, b"two words", "caf\u00e9".encode(), b"nul\x00"],
    ids=["empty", "256 characters", "a space", "not ASCII", "a control character"],
)
async def test_a_malformed_key_is_400_naming_the_header_and_writes_nothing(
    client: TestClient, admin: asyncpg.Connection, key: bytes
) -> None:
    headers = [*((name.encode(), value.encode()) for name, value in {**ALICE, **JSON}.items())]
    sent = [*headers, (b"idempotency-key", key)]
    refused = await client.post("/api/alice/tasks", content=b'{"title": "x"}', headers=sent)
    assert refused.status_code == 400
    [error] = problem_of(refused)["errors"]
    assert error == {
        "key": "Idempotency-Key",
        "message": "must be 1 to 255 visible ASCII characters (no spaces)",
        "source": "header",
    }
    assert await count_tasks(admin) == 0


async def test_two_keys_are_400_and_the_longest_key_is_fine(client: TestClient, admin: asyncpg.Connection) -> None:
    headers = [*((name.encode(), value.encode()) for name, value in {**ALICE, **JSON}.items())]
    two = [*headers, (b"idempotency-key", b"a"), (b"idempotency-key", b"b")]
    refused = await client.post("/api/alice/tasks", content=b'{"title": "x"}', headers=two)
    assert refused.status_code == 400
    assert problem_of(refused)["errors"][0]["key"] == "Idempotency-Key"
    longest = await client.post("/api/alice/tasks", json={"title": "x"}, headers=keyed(key="~" * 255))
    assert longest.status_code == 201
    assert await count_tasks(admin) == 1


async def test_a_browser_may_send_the_key_and_read_the_replay_marker(client: TestClient) -> None:
    origin = {"Origin": "http://localhost:3000"}  # the default CORS_ORIGINS
    preflight = await client.options(
        "/api/alice/tasks",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    await client.post("/api/alice/tasks", json={"title": "x"}, headers={**keyed(), **origin})
    again = await client.post("/api/alice/tasks", json={"title": "x"}, headers={**keyed(), **origin})
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" in again.headers["access-control-expose-headers"].lower()


async def test_this_layers_answers_carry_the_rate_limit_headers_like_any_other(migrated: str) -> None:
    settings = make_settings(migrated, rate_limit_per_minute=600, rate_limit_burst=60)
    carol, key = bearer("carol"), {"Idempotency-Key": str(uuid4())}
    async with AsyncTestClient(app=create_app(settings)) as limited:
        answers = [
            await limited.post("/api/carol/tasks", json={"title": "x"}, headers={**carol, **key}),
            await limited.post("/api/carol/tasks", json={"title": "x"}, headers={**carol, **key}),  # replayed
            await limited.post("/api/carol/tasks", json={"title": "y"}, headers={**carol, **key}),  # 422
            await limited.post("/api/carol/tasks", json={"title": "x"}, headers={**carol, "Idempotency-Key": ""}),
        ]
    assert [answer.status_code for answer in answers] == [201, 201, 422, 400]
    remaining = [int(answer.headers["ratelimit-remaining"]) for answer in answers]
    assert remaining == sorted(remaining, reverse=True)  # each one counted
