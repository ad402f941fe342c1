"""Lists: CRUD, names unique ignoring case, the quota, deleting a list into the trash, restoring
into the inbox, the change feed's lists and deleted_lists, and another user seeing nothing."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pytest

from service.app import create_app
from service.config import Settings
from tests.conftest import ALICE, BOB, TestClient, create, problem_of

LISTS = "/api/alice/lists"
TASKS = "/api/alice/tasks"


async def make_list(client: TestClient, name: str = "Groceries") -> dict[str, Any]:
    response = await client.post(LISTS, json={"name": name}, headers=ALICE)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_get_rename_list_delete(client: TestClient) -> None:
    made = await make_list(client, "  Groceries ")
    assert set(made) == {"id", "user_id", "name", "revision", "created_at", "updated_at"}
    assert (made["name"], made["user_id"]) == ("Groceries", "alice")
    url = f"{LISTS}/{made['id']}"
    assert (await client.get(url, headers=ALICE)).json() == made
    renamed = (await client.patch(url, json={"name": "Food"}, headers=ALICE)).json()
    assert renamed["name"] == "Food"
    assert renamed["revision"] > made["revision"]
    assert renamed["updated_at"] > made["updated_at"]
    same = (await client.patch(url, json={"name": "Food"}, headers=ALICE)).json()
    assert same == renamed  # nothing changed, not even the revision
    assert [item["id"] for item in (await client.get(LISTS, headers=ALICE)).json()] == [made["id"]]
    assert (await client.delete(url, headers=ALICE)).status_code == 204
    assert (await client.get(url, headers=ALICE)).status_code == 404
    assert (await client.delete(url, headers=ALICE)).status_code == 404


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_a_name_is_1_to_100_characters_after_trimming(client: TestClient, name: str) -> None:
    response = await client.post(LISTS, json={"name": name}, headers=ALICE)
    assert response.status_code == 400
    assert [error["key"] for error in problem_of(response)["errors"]] == ["name"]


async def test_names_are_unique_per_user_ignoring_case(client: TestClient) -> None:
    await make_list(client, "Groceries")
    taken = await client.post(LISTS, json={"name": "GROCERIES "}, headers=ALICE)
    assert taken.status_code == 409
    other = await make_list(client, "Work")
    assert (await client.patch(f"{LISTS}/{other['id']}", json={"name": "groceries"}, headers=ALICE)).status_code == 409
    # Another user's names are theirs.
    assert (await client.post("/api/bob/lists", json={"name": "Groceries"}, headers=BOB)).status_code == 201


async def test_past_max_lists_per_user_a_create_is_a_409(settings: Settings, admin: asyncpg.Connection) -> None:
    from litestar.testing import AsyncTestClient

    from tests.conftest import wipe

    await wipe(admin)
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, max_lists_per_user=2))) as small:
        for name in ("a", "b"):
            assert (await small.post(LISTS, json={"name": name}, headers=ALICE)).status_code == 201
        refused = await small.post(LISTS, json={"name": "c"}, headers=ALICE)
        assert refused.status_code == 409
        assert "2 lists" in problem_of(refused)["detail"]
        assert (await small.post("/api/bob/lists", json={"name": "c"}, headers=BOB)).status_code == 201


async def test_deleting_a_list_trashes_its_tasks_and_their_subtasks(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    groceries = await make_list(client)
    parent = await create(client, "parent", list_id=groceries["id"])
    child = await create(client, "child", parent_id=parent["id"])
    assert child["list_id"] == groceries["id"]  # a subtask goes to its parent's list
    inbox = await create(client, "inbox")
    assert (await client.delete(f"{LISTS}/{groceries['id']}", headers=ALICE)).status_code == 204
    live = [task["id"] for task in (await client.get(TASKS, headers=ALICE)).json()]
    assert live == [inbox["id"]]
    trashed = {task["id"] for task in (await client.get("/api/alice/trash", headers=ALICE)).json()}
    assert trashed == {parent["id"], child["id"]}
    # Restoring the parent brings its subtask back with it, both in the inbox now.
    restored = await client.post(f"/api/alice/trash/{parent['id']}/restore", headers=ALICE)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["list_id"], restored.json()["subtasks"]) == (None, 1)
    again = (await client.get(f"{TASKS}/{child['id']}", headers=ALICE)).json()
    assert (again["list_id"], again["parent_id"]) == (None, parent["id"])
    assert await admin.fetchval("SELECT count(*) FROM trashed_tasks") == 0


async def test_the_change_feed_carries_lists_and_deleted_lists(client: TestClient) -> None:
    kept = await make_list(client, "kept")
    gone = await make_list(client, "gone")
    start = (await client.get("/api/alice/changes", headers=ALICE)).json()
    assert start["lists"] == [kept, gone]
    assert start["deleted_lists"] == []
    task = await create(client, "in gone", list_id=gone["id"])
    assert (await client.delete(f"{LISTS}/{gone['id']}", headers=ALICE)).status_code == 204
    feed = (await client.get("/api/alice/changes", params={"since": start["revision"]}, headers=ALICE)).json()
    assert feed["deleted_lists"] == [gone["id"]]
    assert feed["deleted_tasks"] == [task["id"]]
    assert feed["lists"] == []
    renamed = (await client.patch(f"{LISTS}/{kept['id']}", json={"name": "still"}, headers=ALICE)).json()
    feed = (await client.get("/api/alice/changes", params={"since": feed["revision"]}, headers=ALICE)).json()
    assert feed["lists"] == [renamed]
    assert (await client.get("/api/bob/changes", headers=BOB)).json()["lists"] == []


async def test_another_user_sees_and_changes_no_list(client: TestClient) -> None:
    mine = await make_list(client)
    url = f"/api/bob/lists/{mine['id']}"
    assert (await client.get(url, headers=BOB)).status_code == 404
    assert (await client.patch(url, json={"name": "mine now"}, headers=BOB)).status_code == 404
    assert (await client.delete(url, headers=BOB)).status_code == 404
    assert (await client.get("/api/bob/lists", headers=BOB)).json() == []
    # Through alice's path: 403, whatever the method.
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, f"{LISTS}/{mine['id']}", headers=BOB, json={"name": "x"})
        assert response.status_code == 403
    assert (await client.get(f"{LISTS}/{mine['id']}", headers=ALICE)).json() == mine
    # Alice's list is no list of bob's: not to file a task in, nor to filter by.
    refused = await client.post("/api/bob/tasks", json={"title": "t", "list_id": mine["id"]}, headers=BOB)
    assert refused.status_code == 400
    assert [error["key"] for error in problem_of(refused)["errors"]] == ["list_id"]
    for path in ("tasks", "tasks/stats", "tags"):
        filtered = await client.get(f"/api/bob/{path}", params={"list_id": mine["id"]}, headers=BOB)
        assert filtered.status_code == 400, path
        unknown = await client.get(f"/api/bob/{path}", params={"list_id": str(uuid.uuid4())}, headers=BOB)
        assert problem_of(filtered)["detail"] == problem_of(unknown)["detail"]


async def test_stats_and_tags_count_one_list(client: TestClient) -> None:
    work = await make_list(client, "Work")
    await create(client, "report", list_id=work["id"], tags=["office"])
    await create(client, "milk", tags=["home"])
    stats = (await client.get("/api/alice/tasks/stats", params={"list_id": work["id"]}, headers=ALICE)).json()
    assert stats["total"] == 1
    inbox = (await client.get("/api/alice/tasks/stats", params={"list_id": "null"}, headers=ALICE)).json()
    assert inbox["by_tag"] == {"home": 1}
    tags = (await client.get("/api/alice/tags", params={"list_id": work["id"]}, headers=ALICE)).json()
    assert tags == [{"tag": "office", "tasks": 1}]
