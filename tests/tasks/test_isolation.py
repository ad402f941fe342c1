"""A second user sees nothing of the first, through every endpoint, and changes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import ALICE, BOB, TestClient, bearer, problem_of

# (method, path suffix after the task id, JSON body or None)
TASK_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("PUT", "", {"title": "hijacked", "completed": True}),
    ("PATCH", "", {"title": "hijacked"}),
    ("PATCH", "/complete", None),
    ("PATCH", "/complete", {"completed": True}),
    ("DELETE", "", None),
]


@pytest.fixture
async def alices_task(client: TestClient) -> dict[str, Any]:
    response = await client.post("/api/alice/tasks", json={"title": "private", "description": "secret"}, headers=ALICE)
    assert response.status_code == 201
    task: dict[str, Any] = response.json()
    return task


async def snapshot(admin: asyncpg.Connection) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await admin.fetch("SELECT * FROM tasks ORDER BY id")]


@pytest.mark.parametrize(("method", "suffix", "body"), TASK_CALLS)
async def test_another_users_task_is_404_through_their_own_path(
    client: TestClient,
    admin: asyncpg.Connection,
    alices_task: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    before = await snapshot(admin)
    response = await client.request(method, f"/api/bob/tasks/{alices_task['id']}{suffix}", json=body, headers=BOB)
    assert response.status_code == 404
    # The same answer as for a task that never existed: nothing reveals that it does.
    assert problem_of(response) == {"status": 404, "title": "Not Found", "detail": "task not found"}
    assert await snapshot(admin) == before


@pytest.mark.parametrize(("method", "suffix", "body"), TASK_CALLS)
async def test_a_token_for_another_user_is_403_on_their_path(
    client: TestClient,
    admin: asyncpg.Connection,
    alices_task: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    before = await snapshot(admin)
    response = await client.request(method, f"/api/alice/tasks/{alices_task['id']}{suffix}", json=body, headers=BOB)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await snapshot(admin) == before


# The collection-level endpoints, each with every parameter it takes.
COLLECTION_CALLS: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
    ("GET", "/tasks", None, None),
    (
        "GET",
        "/tasks",
        {"completed": "false", "priority": "high", "tag": "secret", "q": "private", "sort": "title", "limit": "5"},
        None,
    ),
    (
        "GET",
        "/tasks",
        {"overdue": "true", "due_before": "2030-01-01T00:00:00Z", "due_after": "2020-01-01T00:00:00Z"},
        None,
    ),
    ("POST", "/tasks", None, {"title": "planted"}),
    ("DELETE", "/tasks", {"completed": "true"}, None),
    ("GET", "/tasks/stats", {"tz": "Europe/Paris"}, None),
    ("GET", "/tags", None, None),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), COLLECTION_CALLS)
async def test_collection_of_another_user_is_403(
    client: TestClient,
    admin: asyncpg.Connection,
    alices_task: dict[str, Any],
    method: str,
    path: str,
    params: dict[str, Any] | None,
    body: dict[str, Any] | None,
) -> None:
    before = await snapshot(admin)
    response = await client.request(method, f"/api/alice{path}", params=params, json=body, headers=BOB)
    assert response.status_code == 403
    assert await snapshot(admin) == before


@pytest.mark.parametrize(("method", "path", "params", "body"), COLLECTION_CALLS)
async def test_collection_endpoints_on_ones_own_path_see_nothing_of_another_user(
    client: TestClient,
    admin: asyncpg.Connection,
    alices_task: dict[str, Any],
    method: str,
    path: str,
    params: dict[str, Any] | None,
    body: dict[str, Any] | None,
) -> None:
    # Alice's task matches every filter above but the dates; completing it makes it clearable too.
    await client.patch(
        f"/api/alice/tasks/{alices_task['id']}", json={"priority": "high", "tags": ["secret"]}, headers=ALICE
    )
    await client.patch(f"/api/alice/tasks/{alices_task['id']}/complete", headers=ALICE)
    alices = await snapshot(admin)

    response = await client.request(method, f"/api/bob{path}", params=params, json=body, headers=BOB)
    assert response.status_code in {200, 201}, response.text
    assert "secret" not in response.text
    assert "private" not in response.text
    assert alices_task["id"] not in response.text
    if path == "/tasks/stats":
        assert response.json()["total"] == 0
    if method == "DELETE":
        assert response.json() == {"deleted": 0}
    assert [row for row in await snapshot(admin) if row[0] == "alice"] == alices


async def test_each_user_lists_only_their_own_tasks(client: TestClient, alices_task: dict[str, Any]) -> None:
    created = await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)
    assert created.json()["user_id"] == "bob"
    bobs = (await client.get("/api/bob/tasks", headers=BOB)).json()
    alices = (await client.get("/api/alice/tasks", headers=ALICE)).json()
    assert [task["title"] for task in bobs] == ["bob's"]
    assert [task["title"] for task in alices] == ["private"]


async def test_a_user_id_that_needs_escaping_round_trips(client: TestClient) -> None:
    odd = "ada lovelace+é"
    headers = bearer(odd)
    response = await client.post("/api/ada%20lovelace%2B%C3%A9/tasks", json={"title": "odd"}, headers=headers)
    assert response.status_code == 201
    assert response.json()["user_id"] == odd
    assert response.headers["location"].startswith("/api/ada%20lovelace%2B%C3%A9/tasks/")
    assert (await client.get(response.headers["location"], headers=headers)).json() == response.json()
    assert (await client.get("/api/alice/tasks", headers=ALICE)).json() == []


@pytest.mark.parametrize(("method", "suffix", "body"), [call for call in TASK_CALLS if call[0] != "GET"])
async def test_an_if_match_on_another_users_task_is_404_not_412(
    client: TestClient,
    admin: asyncpg.Connection,
    alices_task: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    etag = (await client.get(f"/api/alice/tasks/{alices_task['id']}", headers=ALICE)).headers["etag"]
    before = await snapshot(admin)
    for header in (etag, '"0"'):  # matching or not, a 412 would reveal that the task exists
        response = await client.request(
            method, f"/api/bob/tasks/{alices_task['id']}{suffix}", json=body, headers={**BOB, "If-Match": header}
        )
        assert response.status_code == 404
        assert "etag" not in response.headers
    assert await snapshot(admin) == before
