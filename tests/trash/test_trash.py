"""The trash: deleting moves a task there, out of every list; it can be restored or purged, by hand
or by the purge job, which leaves tombstones for the change feed and then forgets them."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db.pool import Database
from service.db.urls import asyncpg_dsn
from service.sync.purge import Purged, Retention, purge
from tests.conftest import ALICE, BOB, TestClient, create, make_settings, problem_of, wipe

TASKS = "/api/alice/tasks"
TRASH = "/api/alice/trash"
# Shorter than the app's own (30 days), so the purge job of the suite's app never takes what a test aged.
# A tombstone's age is its deletion's: a task trashed longer ago than both goes in one pass.
RETENTION = Retention(trash=timedelta(days=7), tombstones=timedelta(days=14))
# The trash in its order: the latest deleted first, ties (one clear of completed tasks) by id.
TRASH_ORDER = "SELECT id::text FROM trashed_tasks WHERE user_id = $1 ORDER BY deleted_at DESC, id DESC"


async def trash(client: TestClient, task: dict[str, Any]) -> None:
    response = await client.delete(f"{TASKS}/{task['id']}", headers=ALICE)
    assert response.status_code == 204, response.text


async def trashed(client: TestClient, url: str = TRASH, headers: dict[str, str] = ALICE) -> list[dict[str, Any]]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def restore(client: TestClient, task_id: str) -> Any:
    return await client.post(f"{TRASH}/{task_id}/restore", headers=ALICE)


async def feed(client: TestClient, since: int) -> dict[str, Any]:
    response = await client.get("/api/alice/changes", params={"since": since}, headers=ALICE)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_stored(task: dict[str, Any]) -> dict[str, Any]:
    """What a task is, apart from when and in which revision it was last written."""
    return {key: value for key, value in task.items() if key not in {"revision", "updated_at", "deleted_at"}}


async def a_full_task(client: TestClient, title: str = "Buy milk") -> dict[str, Any]:
    """One of alice's tasks with every field set, completed."""
    task = await create(
        client, title, description="semi-skimmed", priority="high", tags=["home"], due_at="2026-12-01T09:00:00Z"
    )
    response = await client.patch(f"{TASKS}/{task['id']}/complete", headers=ALICE)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_delete_moves_the_task_to_the_trash(client: TestClient) -> None:
    task = await a_full_task(client)
    await trash(client, task)
    assert (await client.get(f"{TASKS}/{task['id']}", headers=ALICE)).status_code == 404
    assert (await client.delete(f"{TASKS}/{task['id']}", headers=ALICE)).status_code == 404
    [in_trash] = await trashed(client)
    assert as_stored(in_trash) == as_stored(task)
    assert in_trash["updated_at"] == task["updated_at"]
    assert in_trash["revision"] == task["revision"] + 1  # the deletion's
    deleted_at = datetime.fromisoformat(in_trash["deleted_at"])
    assert in_trash["deleted_at"].endswith("Z")
    assert datetime.fromisoformat(task["updated_at"]) < deleted_at <= datetime.now(UTC)


async def test_trashed_tasks_are_in_no_list_search_statistics_or_tags(client: TestClient) -> None:
    kept = await create(client, "Write report", tags=["work"])
    await trash(client, await a_full_task(client, "Buy milk"))
    assert (await client.get(TASKS, headers=ALICE)).json() == [kept]
    for params in ({"q": "milk"}, {"tag": "home"}, {"completed": "true"}, {"priority": "high"}):
        assert (await client.get(TASKS, params=params, headers=ALICE)).json() == [], params
    stats = (await client.get(f"{TASKS}/stats", headers=ALICE)).json()
    assert (stats["total"], stats["completed"], stats["open"]) == (1, 0, 1)
    assert (await client.get("/api/alice/tags", headers=ALICE)).json() == [{"tag": "work", "tasks": 1}]


async def test_clearing_completed_tasks_moves_them_all_to_the_trash(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    done = [await a_full_task(client, f"done {n}") for n in range(3)]
    kept = await create(client, "open")
    response = await client.delete(TASKS, params={"completed": "true"}, headers=ALICE)
    assert response.json() == {"deleted": 3}
    assert (await client.get(TASKS, headers=ALICE)).json() == [kept]
    in_trash = await trashed(client)
    assert [task["id"] for task in in_trash] == [row["id"] for row in await admin.fetch(TRASH_ORDER, "alice")]
    assert sorted(map(as_stored, in_trash), key=lambda task: task["title"]) == list(map(as_stored, done))
    assert len({task["deleted_at"] for task in in_trash}) == 1  # one statement, one moment


def next_link(response: Any) -> str | None:
    link: str | None = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match[1]


async def test_pages_walk_the_trash_once_latest_deleted_first(client: TestClient, admin: asyncpg.Connection) -> None:
    tasks = [await create(client, f"task {n}") for n in range(8)]
    for task in tasks[:5]:
        await trash(client, task)
    for task in tasks[5:]:
        await client.patch(f"{TASKS}/{task['id']}/complete", headers=ALICE)
    await client.delete(TASKS, params={"completed": "true"}, headers=ALICE)
    expected = [row["id"] for row in await admin.fetch(TRASH_ORDER, "alice")]
    assert expected[3:] == [task["id"] for task in reversed(tasks[:5])]  # the cleared three were deleted last
    assert [task["id"] for task in await trashed(client)] == expected
    for limit in range(1, len(expected) + 2):
        pages: list[list[str]] = []
        response = await client.get(TRASH, params={"limit": limit}, headers=ALICE)
        while True:
            assert response.status_code == 200, response.text
            pages.append([task["id"] for task in response.json()])
            link = next_link(response)
            if link is None:
                break
            assert f"limit={limit}" in link
            response = await client.get(link, headers=ALICE)
        assert [task_id for page in pages for task_id in page] == expected, limit
        assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1), limit
        assert 0 < len(pages[-1]) <= limit, limit


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "!!!!"}, "cursor"),
        ({"cursor": cursor_of(["2026-11-22T10:00:00", str(uuid.uuid4())])}, "cursor"),  # no offset
        ({"cursor": cursor_of(["0001-01-01T00:00:00Z", str(uuid.uuid4())])}, "cursor"),  # -infinity to asyncpg
        ({"cursor": cursor_of(["2026-11-22T10:00:00Z", "not-a-uuid"])}, "cursor"),
        ({"cursor": cursor_of(["created_at", "2026-11-22T10:00:00Z", str(uuid.uuid4())])}, "cursor"),  # the list's
        ({"cursor": cursor_of({"deleted_at": "2026-11-22T10:00:00Z"})}, "cursor"),
        ({"cursor": "x" * 2049}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "title"}, "sort"),
    ],
)
async def test_bad_parameters_are_400_naming_them(client: TestClient, params: dict[str, str], key: str) -> None:
    await trash(client, await create(client))
    response = await client.get(TRASH, params=params, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == [key]


async def test_restore_brings_the_task_back_as_it_was(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await a_full_task(client)
    await trash(client, task)
    response = await restore(client, task["id"])
    assert response.status_code == 200, response.text
    restored = response.json()
    assert as_stored(restored) == as_stored(task)  # same id, title, completed, completed_at, created_at...
    assert restored["revision"] == task["revision"] + 2  # after the deletion's
    assert restored["revision"] == await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = 'alice'")
    fetched = await client.get(f"{TASKS}/{task['id']}", headers=ALICE)
    assert fetched.json() == restored
    assert fetched.headers["etag"] == response.headers["etag"]
    assert (await client.get(TASKS, headers=ALICE)).json() == [restored]
    assert await trashed(client) == []
    assert (await restore(client, task["id"])).status_code == 404  # live again, not in the trash
    await trash(client, restored)  # and can be deleted again
    assert [entry["id"] for entry in await trashed(client)] == [task["id"]]


async def test_restore_of_a_task_not_in_the_trash_is_404(client: TestClient) -> None:
    live = await create(client, "live")
    purged = await create(client, "purged")
    await trash(client, purged)
    assert (await client.delete(f"{TRASH}/{purged['id']}", headers=ALICE)).status_code == 204
    for task_id in (live["id"], purged["id"], str(uuid.uuid4())):
        response = await restore(client, task_id)
        assert response.status_code == 404
        assert problem_of(response) == {"status": 404, "title": "Not Found", "detail": "task not in the trash"}
    assert (await client.get(TASKS, headers=ALICE)).json() == [live]


async def test_another_user_cannot_see_restore_or_purge_the_trash(client: TestClient) -> None:
    task = await create(client)
    await trash(client, task)
    assert await trashed(client, "/api/bob/trash", headers=BOB) == []
    assert (await client.post(f"/api/bob/trash/{task['id']}/restore", headers=BOB)).status_code == 404
    assert (await client.delete(f"/api/bob/trash/{task['id']}", headers=BOB)).status_code == 404
    assert (await client.delete("/api/bob/trash", headers=BOB)).json() == {"deleted": 0}
    for method, url in [
        ("GET", TRASH),
        ("POST", f"{TRASH}/{task['id']}/restore"),
        ("DELETE", f"{TRASH}/{task['id']}"),
        ("DELETE", TRASH),
    ]:
        assert (await client.request(method, url, headers=BOB)).status_code == 403, (method, url)
        assert (await client.request(method, url)).status_code == 401, (method, url)
    assert [entry["id"] for entry in await trashed(client)] == [task["id"]]


@pytest.mark.parametrize(("method", "suffix"), [("POST", "/restore"), ("DELETE", "")])
async def test_malformed_task_id_is_400(client: TestClient, method: str, suffix: str) -> None:
    response = await client.request(method, f"{TRASH}/not-a-uuid{suffix}", headers=ALICE)
    assert response.status_code == 400
    assert [error["key"] for error in problem_of(response)["errors"]] == ["task_id"]


QUOTA = 2


@pytest.fixture
async def capped(migrated: str, admin: asyncpg.Connection) -> AsyncIterator[TestClient]:
    await wipe(admin)
    async with AsyncTestClient(app=create_app(make_settings(migrated, max_tasks_per_user=QUOTA))) as client:
        yield client


async def test_restoring_past_the_quota_is_409_and_the_task_stays_in_the_trash(
    capped: TestClient, admin: asyncpg.Connection
) -> None:
    first = await create(capped, "first")
    await trash(capped, first)
    others = [await create(capped, f"other {n}") for n in range(QUOTA)]  # the trash counts toward no quota
    revision = await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = 'alice'")
    response = await restore(capped, first["id"])
    assert response.status_code == 409
    assert f"you have {QUOTA} tasks, the most one user may have" in problem_of(response)["detail"]
    assert [task["id"] for task in await trashed(capped)] == [first["id"]]
    assert await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = 'alice'") == revision
    await trash(capped, others[0])
    assert (await restore(capped, first["id"])).status_code == 200


async def test_purging_one_leaves_a_tombstone(client: TestClient, admin: asyncpg.Connection) -> None:
    task, other = await create(client, "purged"), await create(client, "stays")
    await trash(client, task)
    await trash(client, other)
    response = await client.delete(f"{TRASH}/{task['id']}", headers=ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.delete(f"{TRASH}/{task['id']}", headers=ALICE)).status_code == 404
    assert [entry["id"] for entry in await trashed(client)] == [other["id"]]
    tombstone = await admin.fetchrow("SELECT task_id::text, revision FROM task_tombstones WHERE user_id = 'alice'")
    assert tuple(tombstone) == (task["id"], other["revision"] + 1)  # the revision of its deletion
    changes = await feed(client, other["revision"])
    assert (changes["revision"], changes["deleted_tasks"]) == (other["revision"] + 2, [task["id"], other["id"]])


async def test_emptying_the_trash_says_how_many_went(client: TestClient, admin: asyncpg.Connection) -> None:
    kept = await create(client, "kept")
    tasks = [await create(client, f"task {n}") for n in range(3)]
    for task in tasks:
        await trash(client, task)
    bobs = (await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)).json()
    assert (await client.delete(f"/api/bob/tasks/{bobs['id']}", headers=BOB)).status_code == 204
    response = await client.delete(TRASH, headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    assert await trashed(client) == []
    assert (await client.delete(TRASH, headers=ALICE)).json() == {"deleted": 0}
    assert (await client.get(TASKS, headers=ALICE)).json() == [kept]
    assert (await feed(client, kept["revision"]))["deleted_tasks"] == [task["id"] for task in tasks]
    assert await admin.fetchval("SELECT count(*) FROM task_tombstones WHERE user_id = 'alice'") == 3
    assert [task["id"] for task in await trashed(client, "/api/bob/trash", headers=BOB)] == [bobs["id"]]


@pytest.fixture
async def database(migrated: str) -> AsyncIterator[Database]:
    """A pool of the service's own kind, as the purge job runs on."""
    pool = await asyncpg.create_pool(asyncpg_dsn(migrated), min_size=1, max_size=2)
    try:
        yield Database(pool, acquire_timeout=5)
    finally:
        await pool.close()


AGE = {
    "trashed_tasks": "UPDATE trashed_tasks SET deleted_at = now() - $2::interval WHERE id = any($1::uuid[])",
    "task_tombstones": "UPDATE task_tombstones SET deleted_at = now() - $2::interval WHERE task_id = any($1::uuid[])",
}


async def age(admin: asyncpg.Connection, table: str, ids: list[str], days: int) -> None:
    """Deleted ``days`` ago, as far as the purge can tell."""
    await admin.execute(AGE[table], ids, timedelta(days=days))


async def test_the_purge_buries_old_trash_then_forgets_old_tombstones(
    client: TestClient, admin: asyncpg.Connection, database: Database
) -> None:
    kept = await create(client, "kept")
    old, older, young = [await create(client, title) for title in ("old", "older", "young")]
    for task in (older, old, young):
        await trash(client, task)
    assert await purge(database, RETENTION) == Purged(trashed_tasks=0, tombstones=0)  # nothing is a week old
    await age(admin, "trashed_tasks", [old["id"], older["id"]], days=8)
    assert await purge(database, RETENTION) == Purged(trashed_tasks=2, tombstones=0)
    assert [task["id"] for task in await trashed(client)] == [young["id"]]
    assert (await restore(client, old["id"])).status_code == 404  # gone for good
    revisions = dict(await admin.fetch("SELECT task_id::text, revision FROM task_tombstones"))
    assert revisions == {older["id"]: 5, old["id"]: 6}  # their deletions'
    # A client that last synced before the deletions still learns of them.
    assert (await feed(client, kept["revision"]))["deleted_tasks"] == [older["id"], old["id"], young["id"]]

    await age(admin, "task_tombstones", [old["id"], older["id"]], days=15)
    assert await purge(database, RETENTION) == Purged(trashed_tasks=0, tombstones=2)
    assert await admin.fetchval("SELECT count(*) FROM task_tombstones") == 0
    assert await admin.fetchval("SELECT horizon FROM task_counts WHERE user_id = 'alice'") == 6
    for since in (kept["revision"], 5):
        response = await client.get("/api/alice/changes", params={"since": since}, headers=ALICE)
        assert response.status_code == 410, response.text
    assert (await feed(client, 6))["deleted_tasks"] == [young["id"]]
    assert (await feed(client, 7))["deleted_tasks"] == []
    assert (await feed(client, 0))["tasks"] == [kept]


async def test_the_purge_raises_only_the_horizon_of_users_it_forgot_for(
    client: TestClient, admin: asyncpg.Connection, database: Database
) -> None:
    alices = await create(client, "alice's")
    bobs = (await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)).json()
    await trash(client, alices)
    assert (await client.delete(f"/api/bob/tasks/{bobs['id']}", headers=BOB)).status_code == 204
    await age(admin, "trashed_tasks", [alices["id"]], days=15)
    assert await purge(database, RETENTION, batch=1) == Purged(trashed_tasks=1, tombstones=1)
    assert dict(await admin.fetch("SELECT user_id, horizon FROM task_counts")) == {"alice": 2, "bob": 0}
    assert [task["id"] for task in await trashed(client, "/api/bob/trash", headers=BOB)] == [bobs["id"]]
