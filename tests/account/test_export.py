"""Exporting: every list, live task and trashed task of the user, as the API shows them, and nobody else's."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from service.account import export
from service.db.pool import Database
from service.db.urls import asyncpg_dsn
from tests.conftest import ALICE, BOB, TestClient

EXPORT = "/api/alice/export"


async def alices_data(client: TestClient) -> dict[str, Any]:
    """Alice's lists, tasks and trash through the API, and a task of bob's."""
    made = (await client.post("/api/alice/lists", json={"name": "Groceries"}, headers=ALICE)).json()
    parent = await client.post(
        "/api/alice/tasks",
        json={"title": "Cake", "list_id": made["id"], "tags": ["Baking"], "due_at": "2099-05-01T10:00:00+02:00"},
        headers=ALICE,
    )
    for title in ("Eggs", "Flour"):
        sub = await client.post(
            "/api/alice/tasks", json={"title": title, "parent_id": parent.json()["id"]}, headers=ALICE
        )
        assert sub.status_code == 201, sub.text
    done = await client.post("/api/alice/tasks", json={"title": "Done"}, headers=ALICE)
    await client.patch(f"/api/alice/tasks/{done.json()['id']}/complete", headers=ALICE)
    doomed = await client.post("/api/alice/tasks", json={"title": "Doomed"}, headers=ALICE)
    await client.delete(f"/api/alice/tasks/{doomed.json()['id']}", headers=ALICE)
    await client.post("/api/bob/tasks", json={"title": "Bob's secret"}, headers=BOB)
    return made  # type: ignore[no-any-return]


async def test_the_export_holds_everything_as_the_api_shows_it(client: TestClient) -> None:
    made = await alices_data(client)
    response = await client.get(EXPORT, headers=ALICE)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert list(document) == ["format", "version", "exported_at", "lists", "tasks", "trash"]
    assert (document["format"], document["version"]) == ("task-api-export", 1)
    assert document["lists"] == [made]
    tasks = (await client.get("/api/alice/tasks", params={"limit": 200}, headers=ALICE)).json()
    assert sorted(document["tasks"], key=lambda task: task["id"]) == sorted(tasks, key=lambda task: task["id"])
    assert [task["title"] for task in document["tasks"]] == ["Done", "Cake", "Eggs", "Flour"]  # place by place
    assert document["trash"] == (await client.get("/api/alice/trash", headers=ALICE)).json()
    assert "Bob's secret" not in response.text


async def test_an_export_of_nothing_is_an_empty_document(client: TestClient) -> None:
    document = (await client.get(EXPORT, headers=ALICE)).json()
    assert {key: document[key] for key in ("lists", "tasks", "trash")} == {"lists": [], "tasks": [], "trash": []}


async def test_a_large_export_comes_in_pieces_and_whole(
    client: TestClient, admin: asyncpg.Connection, migrated: str
) -> None:
    await admin.execute(
        "INSERT INTO tasks (user_id, title) SELECT 'alice', 'task ' || n FROM generate_series(1, 1234) AS n"
    )
    # the test client gathers a streamed body; the pieces are the service's own
    async with asyncpg.create_pool(asyncpg_dsn(migrated), min_size=1, max_size=1) as pool:
        pieces = [piece async for piece in export.chunks(Database(pool, acquire_timeout=5), user_id="alice")]
    assert len(pieces) == 1 + 3 + 1 + 1  # head and lists, the tasks 500 at a time, trash, end
    document = json.loads(b"".join(pieces))
    assert document == (await client.get(EXPORT, headers=ALICE)).json() | {"exported_at": document["exported_at"]}
    assert len(document["tasks"]) == 1234
    assert len({task["id"] for task in document["tasks"]}) == 1234


async def test_nobody_exports_another_user(client: TestClient) -> None:
    await alices_data(client)
    assert (await client.get(EXPORT, headers=BOB)).status_code == 403
    assert (await client.get(EXPORT)).status_code == 401
    bobs = (await client.get("/api/bob/export", headers=BOB)).json()
    assert [task["title"] for task in bobs["tasks"]] == ["Bob's secret"]
    assert bobs["lists"] == bobs["trash"] == []
