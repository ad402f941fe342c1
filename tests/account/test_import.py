"""Importing: an export comes back whole, upserted by id, validated as on create, all or nothing."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from service.account.controller import import_body_limit
from tests.account.test_export import alices_data
from tests.conftest import ALICE, BOB, TestClient, problem_of

EXPORT = "/api/alice/export"
IMPORT = "/api/alice/import"


async def exported(client: TestClient, user: str = "alice", headers: dict[str, str] = ALICE) -> dict[str, Any]:
    response = await client.get(f"/api/{user}/export", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def content(document: dict[str, Any]) -> dict[str, Any]:
    """What must come back: everything but revisions (new ones) and the export's moment."""

    def strip(item: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in item.items() if key != "revision"}

    return {key: [strip(item) for item in document[key]] for key in ("lists", "tasks", "trash")}


async def test_export_erase_import_gives_back_the_same_data(client: TestClient) -> None:
    await alices_data(client)
    before = await exported(client)
    seen = (await client.get("/api/alice/changes", headers=ALICE)).json()["revision"]
    assert (await client.delete("/api/alice", params={"confirm": "alice"}, headers=ALICE)).status_code == 204

    response = await client.post(IMPORT, json=before, headers=ALICE)

    assert response.status_code == 200, response.text
    assert response.json() == {"lists": 1, "tasks": 5}
    after = await exported(client)
    assert content(after) == content(before)
    # other devices see it all through the feed, after the erase's revision
    feed = (await client.get("/api/alice/changes", params={"since": seen + 1}, headers=ALICE)).json()
    assert (len(feed["tasks"]), len(feed["lists"]), len(feed["deleted_tasks"])) == (4, 1, 1)
    assert min(task["revision"] for task in feed["tasks"]) > seen + 1


async def test_an_id_the_user_has_is_replaced_and_others_are_made(client: TestClient) -> None:
    await alices_data(client)
    document = await exported(client)
    first = document["tasks"][0]
    changed = await client.patch(f"/api/alice/tasks/{first['id']}", json={"title": "Changed"}, headers=ALICE)
    assert changed.status_code == 200
    fresh = copy.deepcopy(first) | {"id": str(uuid.uuid4()), "title": "Brand new"}
    document["tasks"].append(fresh)
    response = await client.post(IMPORT, json=document, headers=ALICE)
    assert response.status_code == 200, response.text
    back = (await client.get(f"/api/alice/tasks/{first['id']}", headers=ALICE)).json()
    assert (back["title"], back["updated_at"], back["created_at"]) == (
        first["title"],
        first["updated_at"],
        first["created_at"],
    )
    assert back["revision"] > changed.json()["revision"]
    made = (await client.get(f"/api/alice/tasks/{fresh['id']}", headers=ALICE)).json()
    assert (made["title"], made["user_id"]) == ("Brand new", "alice")
    assert len((await exported(client))["tasks"]) == len(document["tasks"])  # nothing deleted, nothing twice


async def test_a_trashed_item_comes_back_trashed_and_a_live_one_leaves_the_trash(client: TestClient) -> None:
    await alices_data(client)
    document = await exported(client)
    live, trashed = document["tasks"][0], document["trash"][0]
    del trashed["deleted_at"]  # a live task has none
    document["tasks"], document["trash"] = [trashed], [live]
    assert (await client.post(IMPORT, json=document, headers=ALICE)).status_code == 200
    assert (await client.get(f"/api/alice/tasks/{live['id']}", headers=ALICE)).status_code == 404
    assert (await client.get(f"/api/alice/tasks/{trashed['id']}", headers=ALICE)).status_code == 200
    assert [task["id"] for task in (await client.get("/api/alice/trash", headers=ALICE)).json()] == [live["id"]]


async def test_another_users_export_makes_copies_and_never_touches_theirs(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    await alices_data(client)
    alices = await exported(client)
    alices["tasks"][0]["user_id"] = "alice"
    response = await client.post("/api/bob/import", json=alices, headers=BOB)
    assert response.status_code == 200, response.text
    bobs = await exported(client, "bob", BOB)
    assert {task["id"] for task in bobs["tasks"]} >= {task["id"] for task in alices["tasks"]}
    assert all(task["user_id"] == "bob" for task in bobs["tasks"] + bobs["trash"])
    # bob changes his copy; alice's stays as it was
    first = alices["tasks"][0]["id"]
    assert (await client.patch(f"/api/bob/tasks/{first}", json={"title": "Bob's"}, headers=BOB)).status_code == 200
    assert content(await exported(client)) == content(alices)
    # and bob's import over ids alice has changes nothing of hers
    again = await client.post("/api/bob/import", json=await exported(client, "bob", BOB), headers=BOB)
    assert again.status_code == 200
    assert content(await exported(client)) == content(alices)
    assert (await client.post(IMPORT, json=alices, headers=BOB)).status_code == 403


async def test_a_bad_item_is_400_naming_its_place_and_nothing_is_written(client: TestClient) -> None:
    await alices_data(client)
    document = await exported(client)
    before = content(document)
    cases: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("tasks[2].title", lambda doc: doc["tasks"][2].update(title="  ")),
        ("tasks[1].reminders", lambda doc: doc["tasks"][1].update(due_at=None, recurrence=None)),
        ("tasks[0].surprise", lambda doc: doc["tasks"][0].update(surprise=1)),
        ("trash[0].time_zone", lambda doc: doc["trash"][0].update(time_zone="Mars/Olympus")),
        ("lists[0].name", lambda doc: doc["lists"][0].update(name="")),
        ("format", lambda doc: doc.update(format="todoist")),
        ("version", lambda doc: doc.update(version=2)),
        ("tasks[1].id", lambda doc: doc["tasks"].append(copy.deepcopy(doc["tasks"][0]))),
        ("trash[0].id", lambda doc: doc["trash"][0].update(id=doc["tasks"][0]["id"])),
        ("tasks[3].parent_id", lambda doc: doc["tasks"][3].update(parent_id=str(uuid.uuid4()))),
        ("tasks[0].list_id", lambda doc: doc["tasks"][0].update(list_id=str(uuid.uuid4()))),
        ("tasks[0].created_at", lambda doc: doc["tasks"][0].update(created_at="2026-01-01T00:00:00")),
    ]
    document["tasks"][1]["reminders"] = [5]
    document["tasks"][1]["due_at"] = "2099-01-01T00:00:00Z"
    for field, spoil in cases:
        bad = copy.deepcopy(document)
        spoil(bad)
        if field == "tasks[1].id":
            bad["tasks"][1:1] = [bad["tasks"].pop()]
        response = await client.post(IMPORT, json=bad, headers=ALICE)
        assert response.status_code == 400, (field, response.text)
        assert [error["key"] for error in problem_of(response)["errors"]] == [field], response.text
    assert content(await exported(client)) == before


async def test_the_quota_holds(client: TestClient, admin: asyncpg.Connection) -> None:
    await admin.execute("INSERT INTO tasks (user_id, title) SELECT 'alice', 'x' || n FROM generate_series(1, 3) AS n")
    document = await exported(client)
    app_quota = client.app.state.max_tasks_per_user
    extra = [{"id": str(uuid.uuid4()), "title": f"t{n}"} for n in range(app_quota - 3 + 1)]
    response = await client.post(IMPORT, json=document | {"tasks": extra}, headers=ALICE)
    assert response.status_code == 409, response.text
    assert len((await exported(client))["tasks"]) == 3
    fits = await client.post(IMPORT, json=document | {"tasks": extra[1:]}, headers=ALICE)
    assert fits.status_code == 200, fits.text


async def test_a_full_export_fits_the_body_limit_and_a_larger_body_is_413(client: TestClient) -> None:
    quota = client.app.state.max_tasks_per_user
    longest = {
        "id": str(uuid.uuid4()),
        "user_id": "alice",
        "title": "\u20ac" * 200,
        "description": "\u20ac" * 1000,
        "tags": [f"{n}" + "\u20ac" * 31 for n in range(10)],
    }
    size = len(msgspec.json.encode(longest | {"revision": 10**9, "created_at": "2026-01-01T00:00:00Z"}))
    assert size * quota < import_body_limit(quota)
    huge = b'{"format":"task-api-export","version":1,"tasks":[' + b" " * import_body_limit(quota) + b"]}"
    response = await client.post(IMPORT, content=huge, headers={**ALICE, "Content-Type": "application/json"})
    assert response.status_code == 413


async def test_moments_with_any_offset_python_takes_are_kept(client: TestClient) -> None:
    # PostgreSQL reads offsets up to 15:59 from text; RFC 3339 and Python allow up to 23:59.
    task = {"id": str(uuid.uuid4()), "title": "Far east", "created_at": "2026-01-01T00:00:00-23:51"}
    response = await client.post(
        IMPORT, json={"format": "task-api-export", "version": 1, "tasks": [task]}, headers=ALICE
    )
    assert response.status_code == 200, response.text
    back = (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json()
    assert back["created_at"] == "2026-01-01T23:51:00Z"
