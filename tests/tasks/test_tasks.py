"""Every endpoint of the contract: the success path and each error path."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from tests.conftest import ALICE, TestClient, create, problem_of

JSON = {"Content-Type": "application/json"}


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value  # UTC, RFC 3339
    return datetime.fromisoformat(value)


async def test_a_new_task_was_updated_when_it_was_created(client: TestClient, admin: asyncpg.Connection) -> None:
    # Two column defaults read the clock twice; about 3 inserts in 100 got times a microsecond apart.
    tasks = [(await client.post("/api/alice/tasks", json={"title": f"t{n}"}, headers=ALICE)).json() for n in range(200)]
    assert [task["id"] for task in tasks if task["created_at"] != task["updated_at"]] == []
    assert await admin.fetchval("SELECT count(*) FROM tasks WHERE created_at <> updated_at") == 0


async def test_create_returns_the_task_with_location(client: TestClient) -> None:
    response = await client.post(
        "/api/alice/tasks", json={"title": "  Buy milk \t", "description": "semi-skimmed"}, headers=ALICE
    )
    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"/api/alice/tasks/{task['id']}"
    assert UUID(task["id"])
    assert task["user_id"] == "alice"
    assert task["title"] == "Buy milk"
    assert task["description"] == "semi-skimmed"
    assert task["completed"] is False
    assert parse_time(task["created_at"]) == parse_time(task["updated_at"])
    assert (task["priority"], task["tags"], task["due_at"], task["completed_at"]) == ("medium", [], None, None)
    assert set(task) == {
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "priority",
        "tags",
        "due_at",
        "completed_at",
        "created_at",
        "updated_at",
        "revision",
        "recurrence",
        "time_zone",
        "reminders",
        "series_id",
        "list_id",
        "parent_id",
        "position",
        "subtasks",
        "subtasks_open",
    }


async def test_create_without_description_stores_null(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    assert task["description"] is None
    assert await admin.fetchval("SELECT description FROM tasks WHERE id = $1", UUID(task["id"])) is None


async def test_location_of_a_created_task_serves_it(client: TestClient) -> None:
    response = await client.post("/api/alice/tasks", json={"title": "x"}, headers=ALICE)
    fetched = await client.get(response.headers["location"], headers=ALICE)
    assert fetched.status_code == 200
    assert fetched.json() == response.json()


async def test_list_is_newest_first(client: TestClient) -> None:
    titles = [f"task {n}" for n in range(5)]
    for title in titles:
        await create(client, title)
    response = await client.get("/api/alice/tasks", headers=ALICE)
    assert response.status_code == 200
    assert [task["title"] for task in response.json()] == titles[::-1]


async def test_list_of_a_new_user_is_empty(client: TestClient) -> None:
    response = await client.get("/api/alice/tasks", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == []


async def test_get_returns_the_task(client: TestClient) -> None:
    task = await create(client)
    response = await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == task


async def test_get_unknown_task_is_404(client: TestClient) -> None:
    response = await client.get(f"/api/alice/tasks/{uuid4()}", headers=ALICE)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_of(response) == {"status": 404, "title": "Not Found", "detail": "task not found"}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"title": "x"}),
        ("PATCH", "", {"title": "x"}),
        ("DELETE", "", None),
        ("PATCH", "/complete", {"completed": True}),
    ],
)
async def test_malformed_task_id_is_400_for_every_method(
    client: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, f"/api/alice/tasks/not-a-uuid{suffix}", json=body, headers=ALICE)
    assert response.status_code == 400
    problem = response.json()
    assert {"key": "task_id", "message": "Invalid UUID", "source": "path"} in problem["errors"]
    assert "task_id" in problem["detail"]


async def test_reads_do_not_move_updated_at(client: TestClient) -> None:
    task = await create(client)
    await client.get("/api/alice/tasks", headers=ALICE)
    response = await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)
    assert response.json()["updated_at"] == task["updated_at"]


async def test_put_replaces_content_and_keeps_completed_when_omitted(client: TestClient) -> None:
    task = await create(client, description="old")
    await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    response = await client.put(f"/api/alice/tasks/{task['id']}", json={"title": " New "}, headers=ALICE)
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "New"
    assert replaced["description"] is None  # omitted description becomes null
    assert replaced["completed"] is True  # omitted completed stays as it was
    assert replaced["created_at"] == task["created_at"]
    assert parse_time(replaced["updated_at"]) > parse_time(task["updated_at"])


async def test_put_sets_completed_when_given(client: TestClient) -> None:
    task = await create(client)
    response = await client.put(
        f"/api/alice/tasks/{task['id']}", json={"title": "t", "description": "d", "completed": True}, headers=ALICE
    )
    assert response.json()["completed"] is True
    assert response.json()["description"] == "d"


@pytest.mark.parametrize("body", [{}, {"description": "no title"}, {"title": "x", "id": "y"}, {"title": None}])
async def test_put_with_bad_body_is_400_and_changes_nothing(
    client: TestClient, body: dict[str, Any], admin: asyncpg.Connection
) -> None:
    task = await create(client)
    response = await client.put(f"/api/alice/tasks/{task['id']}", json=body, headers=ALICE)
    assert response.status_code == 400
    assert (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json() == task


async def test_put_unknown_task_is_404(client: TestClient) -> None:
    response = await client.put(f"/api/alice/tasks/{uuid4()}", json={"title": "x"}, headers=ALICE)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"title": " Renamed "}, {"title": "Renamed", "description": "keep", "completed": False}),
        ({"description": "changed"}, {"title": "Buy milk", "description": "changed", "completed": False}),
        ({"description": None}, {"title": "Buy milk", "description": None, "completed": False}),
        ({"completed": True}, {"title": "Buy milk", "description": "keep", "completed": True}),
        (
            {"title": "All", "description": "three", "completed": True},
            {"title": "All", "description": "three", "completed": True},
        ),
    ],
)
async def test_patch_changes_only_the_given_fields(
    client: TestClient, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    task = await create(client, description="keep")
    response = await client.patch(f"/api/alice/tasks/{task['id']}", json=patch, headers=ALICE)
    assert response.status_code == 200
    updated = response.json()
    assert {key: updated[key] for key in expected} == expected
    assert parse_time(updated["updated_at"]) > parse_time(task["updated_at"])


@pytest.mark.parametrize(
    "body", [{}, {"title": None}, {"completed": None}, {"title": "   "}, {"color": "red"}, {"completed": "yes"}]
)
async def test_patch_with_bad_body_is_400(client: TestClient, body: dict[str, Any]) -> None:
    task = await create(client)
    response = await client.patch(f"/api/alice/tasks/{task['id']}", json=body, headers=ALICE)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
    assert (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json() == task


async def test_patch_unknown_task_is_404(client: TestClient) -> None:
    response = await client.patch(f"/api/alice/tasks/{uuid4()}", json={"completed": True}, headers=ALICE)
    assert response.status_code == 404


async def test_a_write_that_changes_nothing_keeps_updated_at(client: TestClient) -> None:
    task = await create(client)
    response = await client.patch(f"/api/alice/tasks/{task['id']}", json={"title": task["title"]}, headers=ALICE)
    assert response.json()["updated_at"] == task["updated_at"]


async def test_complete_without_body_toggles(client: TestClient) -> None:
    task = await create(client)
    first = await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    assert first.status_code == 200
    assert first.json()["completed"] is True
    second = await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    assert second.json()["completed"] is False
    assert parse_time(second.json()["updated_at"]) > parse_time(first.json()["updated_at"])


@pytest.mark.parametrize("value", [True, False])
async def test_complete_with_body_sets_the_value_and_is_safe_to_retry(client: TestClient, value: bool) -> None:
    task = await create(client)
    for _ in range(3):
        response = await client.patch(
            f"/api/alice/tasks/{task['id']}/complete", json={"completed": value}, headers=ALICE
        )
        assert response.status_code == 200
        assert response.json()["completed"] is value


@pytest.mark.parametrize("body", [{}, {"completed": None}, {"completed": "maybe"}, {"completed": True, "x": 1}])
async def test_complete_with_bad_body_is_400(client: TestClient, body: dict[str, Any]) -> None:
    task = await create(client)
    response = await client.patch(f"/api/alice/tasks/{task['id']}/complete", json=body, headers=ALICE)
    assert response.status_code == 400
    assert (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json()["completed"] is False


async def test_complete_unknown_task_is_404(client: TestClient) -> None:
    response = await client.patch(f"/api/alice/tasks/{uuid4()}/complete", headers=ALICE)
    assert response.status_code == 404


async def test_concurrent_toggles_never_lose_a_flip(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    responses = await asyncio.gather(
        *(client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE) for _ in range(21))
    )
    assert all(response.status_code == 200 for response in responses)
    # An odd number of flips from false ends at true, whatever the interleaving.
    assert await admin.fetchval("SELECT completed FROM tasks WHERE id = $1", UUID(task["id"])) is True


async def test_delete_removes_the_task_and_again_is_404(client: TestClient) -> None:
    task = await create(client)
    response = await client.delete(f"/api/alice/tasks/{task['id']}", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).status_code == 404
    assert (await client.delete(f"/api/alice/tasks/{task['id']}", headers=ALICE)).status_code == 404


async def test_unsupported_method_is_405_problem(client: TestClient) -> None:
    response = await client.post("/api/alice/tasks/" + str(uuid4()), json={"title": "x"}, headers=ALICE)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert "allow" in response.headers
