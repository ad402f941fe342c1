"""GET /api/{user_id}/changes: every write advances the user's revision by one per changed task, and
the feed pages through what changed after a revision, each task at most once, in revision order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from service.sync.purge import Purged, Retention, purge
from tests.conftest import ALICE, BOB, TestClient, create, problem_of

CHANGES = "/api/alice/changes"
NO_LISTS: dict[str, list[str]] = {
    "lists": [],
    "deleted_lists": [],
}  # these tests change tasks only: tests/lists has the lists' own
TASKS = "/api/alice/tasks"
TRASH = "/api/alice/trash"

# Every change of a user as the database holds it, oldest first: what the feed must page through.
CHANGED = """
    SELECT id::text, revision, false AS deleted FROM tasks WHERE user_id = $1
    UNION ALL SELECT id::text, revision, true FROM trashed_tasks WHERE user_id = $1
    UNION ALL SELECT task_id::text, revision, true FROM task_tombstones WHERE user_id = $1
    ORDER BY revision
"""


async def changes(
    client: TestClient, since: int | None = None, limit: int | None = None, user: str = "alice"
) -> dict[str, Any]:
    params = {name: value for name, value in (("since", since), ("limit", limit)) if value is not None}
    response = await client.get(f"/api/{user}/changes", params=params, headers=ALICE if user == "alice" else BOB)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def counter(admin: asyncpg.Connection, user: str = "alice") -> int:
    """The user's revision as their counter row holds it (0 before their first write)."""
    revision: int | None = await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = $1", user)
    return revision or 0


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def trash(client: TestClient, task: dict[str, Any]) -> None:
    await ok(await client.delete(f"{TASKS}/{task['id']}", headers=ALICE), 204)


async def set_completed(client: TestClient, task: dict[str, Any], completed: bool) -> dict[str, Any]:
    body: dict[str, Any] = await ok(
        await client.patch(f"{TASKS}/{task['id']}/complete", json={"completed": completed}, headers=ALICE)
    )
    return body


async def arrange(client: TestClient) -> dict[str, dict[str, Any]]:
    """Alice's tasks before a write: two open, two completed, one in the trash."""
    tasks = {title: await create(client, title) for title in ("open", "other", "done", "done too", "trashed")}
    for title in ("done", "done too"):
        tasks[title] = await set_completed(client, tasks[title], True)
    await trash(client, tasks["trashed"])
    return tasks


# Each write kind, after arrange(): the tasks it returns (the changed ones, as the write answered)
# and the ids of those it deleted.
Write = Callable[[TestClient, dict[str, dict[str, Any]]], Awaitable[tuple[list[dict[str, Any]], list[str]]]]


async def create_one(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    return [await create(client, "new")], []


async def replace(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    url = f"{TASKS}/{tasks['open']['id']}"
    return [await ok(await client.put(url, json={"title": "replaced", "priority": "high"}, headers=ALICE))], []


async def update(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    url = f"{TASKS}/{tasks['open']['id']}"
    return [await ok(await client.patch(url, json={"tags": ["home"]}, headers=ALICE))], []


async def toggle(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    return [await ok(await client.patch(f"{TASKS}/{tasks['done']['id']}/complete", headers=ALICE))], []


async def complete(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    return [await set_completed(client, tasks["open"], True)], []


async def delete(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    await trash(client, tasks["other"])
    return [], [tasks["other"]["id"]]


async def clear(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    response = await client.delete(TASKS, params={"completed": "true"}, headers=ALICE)
    assert await ok(response) == {"deleted": 2}
    return [], [tasks["done"]["id"], tasks["done too"]["id"]]  # completed in this order


async def restore(client: TestClient, tasks: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    return [await ok(await client.post(f"{TRASH}/{tasks['trashed']['id']}/restore", headers=ALICE))], []


WRITES: dict[str, Write] = {
    "create": create_one,
    "PUT": replace,
    "PATCH": update,
    "toggle": toggle,
    "set completed": complete,
    "delete": delete,
    "clear completed": clear,
    "restore": restore,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
async def test_each_write_advances_the_revision_by_one_per_changed_task(
    client: TestClient, admin: asyncpg.Connection, write: Write
) -> None:
    tasks = await arrange(client)
    before = await counter(admin)
    assert before == 8  # five creates, two completions, one delete
    assert (await changes(client))["revision"] == before
    written, deleted = await write(client, tasks)
    after = before + len(written) + len(deleted)
    assert await counter(admin) == after
    feed = await changes(client, since=before)
    # The changed tasks in the state the write answered, each stamped with one new revision.
    assert feed == {"revision": after, "has_more": False, "tasks": written, "deleted_tasks": deleted, **NO_LISTS}
    assert sorted(task["revision"] for task in written) == list(range(before + 1, after + 1))[: len(written)]
    assert (await changes(client, since=after))["tasks"] == []
    assert (await changes(client))["revision"] == after


async def test_a_write_that_changes_nothing_keeps_the_revision(client: TestClient, admin: asyncpg.Connection) -> None:
    tasks = await arrange(client)
    before = await counter(admin)
    same = {key: tasks["open"][key] for key in ("title", "description", "priority", "tags", "due_at", "completed")}
    for title in ("open", "done"):
        url = f"{TASKS}/{tasks[title]['id']}"
        assert await ok(await client.patch(url, json={"title": title}, headers=ALICE)) == tasks[title]
    await ok(await client.patch(f"{TASKS}/{tasks['open']['id']}", json=same, headers=ALICE))
    await ok(await client.put(f"{TASKS}/{tasks['open']['id']}", json=same, headers=ALICE))
    assert await set_completed(client, tasks["done"], True) == tasks["done"]
    assert await set_completed(client, tasks["open"], False) == tasks["open"]
    assert await counter(admin) == before
    assert await changes(client, since=before) == {
        "revision": before,
        "has_more": False,
        "tasks": [],
        "deleted_tasks": [],
        **NO_LISTS,
    }


async def test_failed_writes_and_purges_keep_the_revision(client: TestClient, admin: asyncpg.Connection) -> None:
    tasks = await arrange(client)
    await set_completed(client, tasks["done"], False)
    await set_completed(client, tasks["done too"], False)
    before = await counter(admin)
    open_id = tasks["open"]["id"]
    assert (await client.delete(TASKS, params={"completed": "true"}, headers=ALICE)).json() == {"deleted": 0}
    assert (await client.post(f"{TRASH}/{open_id}/restore", headers=ALICE)).status_code == 404  # not in the trash
    assert (await client.patch(f"{TASKS}/{open_id}", json={"title": ""}, headers=ALICE)).status_code == 400
    await ok(await client.delete(f"{TRASH}/{tasks['trashed']['id']}", headers=ALICE), 204)  # nothing live changes
    assert (await client.delete(TRASH, headers=ALICE)).json() == {"deleted": 0}
    assert await counter(admin) == before
    assert (await changes(client, since=before))["tasks"] == []


async def test_without_since_every_live_task_and_no_deletions(client: TestClient, admin: asyncpg.Connection) -> None:
    tasks = await arrange(client)
    await ok(await client.delete(f"{TRASH}/{tasks['trashed']['id']}", headers=ALICE), 204)  # a tombstone now
    await trash(client, tasks["other"])
    latest = await counter(admin)
    live = (await client.get(TASKS, params={"sort": "updated_at"}, headers=ALICE)).json()
    feed = await changes(client)
    assert feed == {"revision": latest, "has_more": False, "tasks": live, "deleted_tasks": [], **NO_LISTS}
    assert await changes(client, since=0) == feed
    assert [task["title"] for task in feed["tasks"]] == ["open", "done", "done too"]


async def test_deletions_appear_after_since_whether_trashed_or_purged(client: TestClient) -> None:
    kept, trashed, purged = [await create(client, title) for title in ("kept", "trashed", "purged")]
    since = purged["revision"]
    await trash(client, trashed)
    await trash(client, purged)
    await ok(await client.delete(f"{TRASH}/{purged['id']}", headers=ALICE), 204)
    feed = await changes(client, since=since)
    assert feed == {
        "revision": since + 2,
        "has_more": False,
        "tasks": [],
        "deleted_tasks": [trashed["id"], purged["id"]],
        **NO_LISTS,
    }
    assert (await changes(client, since=since + 1))["deleted_tasks"] == [purged["id"]]
    assert (await changes(client))["tasks"] == [kept]
    await ok(await client.delete(TRASH, headers=ALICE))  # the trashed one becomes a tombstone too
    assert await changes(client, since=since) == feed


async def test_each_task_appears_once_in_its_latest_state(client: TestClient) -> None:
    since = (await create(client, "before"))["revision"]
    edited, gone, back = [await create(client, title) for title in ("edited", "gone", "back")]
    for title in ("edited once", "edited twice"):
        edited = await ok(await client.patch(f"{TASKS}/{edited['id']}", json={"title": title}, headers=ALICE))
    await ok(await client.patch(f"{TASKS}/{gone['id']}", json={"title": "going"}, headers=ALICE))
    await trash(client, gone)
    await trash(client, back)
    back = await ok(await client.post(f"{TRASH}/{back['id']}/restore", headers=ALICE))
    feed = await changes(client, since=since)
    assert feed["tasks"] == [edited, back]  # a trashed task restored is a task, not a deletion
    assert feed["deleted_tasks"] == [gone["id"]]  # created, edited and trashed since: only its deletion
    assert feed["revision"] == back["revision"] == since + 9


@pytest.mark.parametrize("since", [0, 7], ids=["from nothing", "from the middle"])
async def test_pages_walk_every_change_once_in_revision_order(
    client: TestClient, admin: asyncpg.Connection, since: int
) -> None:
    tasks = await arrange(client)
    await ok(await client.patch(f"{TASKS}/{tasks['other']['id']}", json={"priority": "low"}, headers=ALICE))
    await trash(client, tasks["open"])
    await ok(await client.delete(TASKS, params={"completed": "true"}, headers=ALICE))
    await ok(await client.post(f"{TRASH}/{tasks['done']['id']}/restore", headers=ALICE))
    await ok(await client.delete(f"{TRASH}/{tasks['trashed']['id']}", headers=ALICE), 204)
    await create(client, "last")
    latest = await counter(admin)
    assert latest == 14
    history = await admin.fetch(CHANGED, "alice")
    for limit in range(1, len(history) + 1):
        walked, after = [], since
        while True:
            # From 0 the first page holds live tasks only; later pages, deletions too.
            pending = [row for row in history if row["revision"] > after and (after > 0 or not row["deleted"])]
            page, chunk = await changes(client, since=after, limit=limit), pending[:limit]
            assert page["has_more"] is (len(pending) > limit), limit
            assert [(task["id"], task["revision"]) for task in page["tasks"]] == [
                (row["id"], row["revision"]) for row in chunk if not row["deleted"]
            ]
            assert page["deleted_tasks"] == [row["id"] for row in chunk if row["deleted"]]
            walked += chunk
            if not page["has_more"]:
                assert page["revision"] == latest
                break
            assert page["revision"] == chunk[-1]["revision"]
            after = page["revision"]
        assert len({row["id"] for row in walked}) == len(walked)  # each change once
        assert {row["id"] for row in history if not row["deleted"]} <= {row["id"] for row in walked}
        if since > 0:
            assert walked == [row for row in history if row["revision"] > since]


async def test_the_default_page_is_500_changes(client: TestClient, admin: asyncpg.Connection) -> None:
    await admin.execute(
        "INSERT INTO tasks (user_id, title, revision) SELECT 'alice', 't' || n, n FROM generate_series(1, 501) n"
    )
    first = await changes(client)
    assert (len(first["tasks"]), first["has_more"], first["revision"]) == (500, True, 500)
    assert [task["revision"] for task in (await changes(client, since=first["revision"]))["tasks"]] == [501]
    biggest = await changes(client, limit=1000)
    assert (len(biggest["tasks"]), biggest["has_more"], biggest["revision"]) == (501, False, 501)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "5.0"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": ["1", "2"]}, "limit"),
        ({"since": "-1"}, "since"),
        ({"since": "one"}, "since"),
        ({"since": "1.5"}, "since"),
        ({"since": "null"}, "since"),
        ({"since": str(2**63)}, "since"),  # past PostgreSQL's bigint
        ({"since": str(2**64 + 1)}, "since"),
        ({"since": "9" * 100}, "since"),
        ({"sinse": "1"}, "sinse"),
    ],
)
async def test_bad_parameters_are_400_naming_them(client: TestClient, params: dict[str, Any], key: str) -> None:
    await create(client)
    response = await client.get(CHANGES, params=params, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == [key]


async def test_a_since_above_the_latest_revision_is_400(client: TestClient) -> None:
    response = await client.get(CHANGES, params={"since": 1}, headers=ALICE)  # alice has never written
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == ["since"]
    for _ in range(3):
        await create(client)
    for since in (4, 2**63 - 1):
        response = await client.get(CHANGES, params={"since": since}, headers=ALICE)
        assert response.status_code == 400, response.text
        problem = problem_of(response)
        assert [error["key"] for error in problem["errors"]] == ["since"]
        assert "at most your latest, 3" in problem["detail"]  # so a client can tell what went wrong
    assert (await changes(client, since=3))["revision"] == 3


async def test_a_since_below_the_horizon_is_410_and_zero_never(client: TestClient, admin: asyncpg.Connection) -> None:
    for _ in range(5):
        await create(client)
    await admin.execute("UPDATE task_counts SET horizon = 3 WHERE user_id = 'alice'")
    for since in (1, 2):
        response = await client.get(CHANGES, params={"since": since}, headers=ALICE)
        assert response.status_code == 410, response.text
        problem = problem_of(response)
        assert (problem["status"], problem["title"]) == (410, "Gone")
        assert "since=0" in problem["detail"]
    assert [(await changes(client, since=since))["revision"] for since in (3, 4, 5)] == [5, 5, 5]
    assert len((await changes(client, since=0))["tasks"]) == len((await changes(client))["tasks"]) == 5


async def test_purged_tombstones_raise_the_horizon(client: TestClient, admin: asyncpg.Connection) -> None:
    first, second, third = [await create(client, title) for title in ("first", "second", "third")]
    await trash(client, first)
    await trash(client, second)
    purged = await purge(admin, Retention(trash=timedelta(0), tombstones=timedelta(0)))
    assert purged == Purged(trashed_tasks=2, tombstones=2)
    assert await admin.fetchval("SELECT horizon FROM task_counts WHERE user_id = 'alice'") == 5
    assert (await client.get(CHANGES, params={"since": 4}, headers=ALICE)).status_code == 410
    assert await changes(client, since=5) == {
        "revision": 5,
        "has_more": False,
        "tasks": [],
        "deleted_tasks": [],
        **NO_LISTS,
    }
    assert await changes(client, since=0) == {
        "revision": 5,
        "has_more": False,
        "tasks": [third],
        "deleted_tasks": [],
        **NO_LISTS,
    }


async def test_users_never_see_each_others_changes(client: TestClient) -> None:
    mine = await create(client, "mine")
    theirs = []
    for title in ("theirs", "also theirs"):
        response = await client.post("/api/bob/tasks", json={"title": title}, headers=BOB)
        theirs.append(await ok(response, 201))
    assert [task["revision"] for task in theirs] == [1, 2]  # each user counts their own revisions
    await ok(await client.delete(f"/api/bob/tasks/{theirs[0]['id']}", headers=BOB), 204)
    assert await changes(client) == {"revision": 1, "has_more": False, "tasks": [mine], "deleted_tasks": [], **NO_LISTS}
    assert (await changes(client, since=1))["deleted_tasks"] == []
    bobs = await changes(client, since=1, user="bob")
    assert bobs == {
        "revision": 3,
        "has_more": False,
        "tasks": [theirs[1]],
        "deleted_tasks": [theirs[0]["id"]],
        **NO_LISTS,
    }


async def test_another_users_feed_is_403_and_no_token_401(client: TestClient) -> None:
    await client.post("/api/bob/tasks", json={"title": "theirs"}, headers=BOB)
    assert (await client.get("/api/bob/changes", headers=ALICE)).status_code == 403
    assert (await client.get("/api/bob/changes", params={"since": 0}, headers=ALICE)).status_code == 403
    response = await client.get(CHANGES)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
