"""Subtasks (one level) and the user's own order: parent_id's rules, the subtask counts, trashing
and restoring a parent with its subtasks, moves, 50 moves at once into one gap, and keys that stay
short however often a task is moved into the same gap."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from service.tasks import positions
from tests.conftest import ALICE, BOB, TestClient, create, problem_of

TASKS = "/api/alice/tasks"


async def move(client: TestClient, task: dict[str, Any], status: int = 200, **body: Any) -> Any:
    response = await client.post(f"{TASKS}/{task['id']}/move", json=body, headers=ALICE)
    assert response.status_code == status, response.text
    return response.json()


async def in_order(client: TestClient, **params: Any) -> list[str]:
    response = await client.get(TASKS, params={"sort": "position", **params}, headers=ALICE)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


def refused_field(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [error["key"] for error in problem_of(response)["errors"]]


async def test_new_tasks_go_last_and_moves_reorder(client: TestClient) -> None:
    a, b, c = [await create(client, title) for title in "abc"]
    assert await in_order(client) == ["a", "b", "c"]
    moved = await move(client, c, after=None)
    assert moved["revision"] > c["revision"]
    assert moved["updated_at"] > c["updated_at"]
    assert await in_order(client) == ["c", "a", "b"]
    await move(client, c, after=a["id"])
    assert await in_order(client) == ["a", "c", "b"]
    await move(client, a, after=b["id"])
    assert await in_order(client) == ["c", "b", "a"]
    assert await in_order(client, sort="-position") == ["a", "b", "c"]


async def test_sort_by_position_pages_with_a_cursor(client: TestClient) -> None:
    for n in range(7):
        await create(client, f"t{n}")
    seen: list[str] = []
    params: dict[str, str] | None
    url, params = TASKS, {"sort": "position", "limit": "3"}
    while True:
        response = await client.get(url, params=params, headers=ALICE)
        seen += [task["title"] for task in response.json()]
        if "link" not in response.headers:
            break
        url, params = response.headers["link"].split(">")[0].lstrip("<"), None
    assert seen == [f"t{n}" for n in range(7)]


async def test_subtasks_and_their_counts(client: TestClient) -> None:
    parent = await create(client, "parent")
    first = await create(client, "first", parent_id=parent["id"])
    await create(client, "second", parent_id=parent["id"])
    await client.patch(f"{TASKS}/{first['id']}/complete", headers=ALICE)
    got = (await client.get(f"{TASKS}/{parent['id']}", headers=ALICE)).json()
    assert (got["subtasks"], got["subtasks_open"]) == (2, 1)
    assert await in_order(client, parent_id=parent["id"]) == ["first", "second"]
    assert await in_order(client, parent_id="null") == ["parent"]
    listed = {task["title"]: task for task in (await client.get(TASKS, headers=ALICE)).json()}
    assert (listed["parent"]["subtasks"], listed["parent"]["subtasks_open"]) == (2, 1)
    assert listed["first"]["subtasks"] == 0


async def test_parent_id_rules_are_400_naming_it(client: TestClient) -> None:
    parent = await create(client, "parent")
    child = await create(client, "child", parent_id=parent["id"])
    lonely = await create(client, "lonely")
    other_list = (await client.post("/api/alice/lists", json={"name": "L"}, headers=ALICE)).json()
    bobs = (await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)).json()
    for body in (
        {"title": "t", "parent_id": child["id"]},  # a subtask cannot have subtasks
        {"title": "t", "parent_id": bobs["id"]},  # another user's task is no task here
        {"title": "t", "parent_id": "00000000-0000-4000-8000-000000000000"},
        {"title": "t", "parent_id": parent["id"], "list_id": other_list["id"]},  # another list
    ):
        assert refused_field(await client.post(TASKS, json=body, headers=ALICE)) == ["parent_id"], body
    moves = [
        (lonely, {"after": None, "parent_id": lonely["id"]}),  # itself
        (parent, {"after": None, "parent_id": lonely["id"]}),  # it has subtasks
        (lonely, {"after": None, "parent_id": child["id"]}),  # second level
        (lonely, {"after": None, "parent_id": bobs["id"]}),
    ]
    for task, body in moves:
        response = await client.post(f"{TASKS}/{task['id']}/move", json=body, headers=ALICE)
        assert refused_field(response) == ["parent_id"], body
    patched = await client.patch(f"{TASKS}/{parent['id']}", json={"parent_id": lonely["id"]}, headers=ALICE)
    assert refused_field(patched) == ["parent_id"]
    assert (await client.get(f"{TASKS}/{parent['id']}", headers=ALICE)).json()["parent_id"] is None


async def test_after_rules_are_400_naming_it(client: TestClient) -> None:
    parent = await create(client, "parent")
    child = await create(client, "child", parent_id=parent["id"])
    task = await create(client, "task")
    bobs = (await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)).json()
    for after in (child["id"], task["id"], bobs["id"], "00000000-0000-4000-8000-000000000000"):
        response = await client.post(f"{TASKS}/{task['id']}/move", json={"after": after}, headers=ALICE)
        assert refused_field(response) == ["after"], after
    # Under the parent, after the child is right.
    moved = await move(client, task, after=child["id"], parent_id=parent["id"])
    assert moved["parent_id"] == parent["id"]
    assert await in_order(client, parent_id=parent["id"]) == ["child", "task"]


async def test_a_parent_moved_to_another_list_takes_its_subtasks(client: TestClient) -> None:
    work = (await client.post("/api/alice/lists", json={"name": "Work"}, headers=ALICE)).json()
    parent = await create(client, "parent")
    child = await create(client, "child", parent_id=parent["id"])
    moved = await move(client, parent, after=None, list_id=work["id"])
    assert (moved["list_id"], moved["subtasks"]) == (work["id"], 1)
    assert (await client.get(f"{TASKS}/{child['id']}", headers=ALICE)).json()["list_id"] == work["id"]
    assert await in_order(client, list_id=work["id"]) == ["parent", "child"]
    assert await in_order(client, list_id="null") == []
    # A subtask moved to another list leaves its parent.
    back = await move(client, child, after=None, list_id=None)
    assert (back["list_id"], back["parent_id"]) == (None, None)
    # PATCH moves too: last in the list it names.
    patched = await client.patch(f"{TASKS}/{back['id']}", json={"list_id": work["id"]}, headers=ALICE)
    assert patched.json()["list_id"] == work["id"]
    assert await in_order(client, list_id=work["id"], parent_id="null") == ["parent", "child"]


async def test_trashing_and_restoring_a_parent_takes_its_subtasks(client: TestClient) -> None:
    parent = await create(client, "parent")
    kids = [await create(client, f"kid {n}", parent_id=parent["id"]) for n in range(2)]
    assert (await client.delete(f"{TASKS}/{parent['id']}", headers=ALICE)).status_code == 204
    assert await in_order(client) == []
    trashed = (await client.get("/api/alice/trash", headers=ALICE)).json()
    assert {task["id"] for task in trashed} == {parent["id"], *(kid["id"] for kid in kids)}
    restored = (await client.post(f"/api/alice/trash/{parent['id']}/restore", headers=ALICE)).json()
    assert restored["subtasks"] == 2
    assert await in_order(client, parent_id=parent["id"]) == ["kid 0", "kid 1"]
    assert (await client.get("/api/alice/trash", headers=ALICE)).json() == []


async def test_a_restored_task_whose_place_is_taken_goes_last(client: TestClient) -> None:
    first = await create(client, "first")
    await create(client, "second")
    assert (await client.delete(f"{TASKS}/{first['id']}", headers=ALICE)).status_code == 204
    await move(client, await create(client, "third"), after=None)  # may take the trashed one's key
    restored = await client.post(f"/api/alice/trash/{first['id']}/restore", headers=ALICE)
    assert restored.status_code == 200, restored.text
    titles = await in_order(client)
    assert sorted(titles) == ["first", "second", "third"]


async def test_another_user_cannot_move_or_see_moves(client: TestClient) -> None:
    task = await create(client, "mine")
    response = await client.post(f"/api/bob/tasks/{task['id']}/move", json={"after": None}, headers=BOB)
    assert response.status_code == 404
    assert (await client.post(f"{TASKS}/{task['id']}/move", json={"after": None}, headers=BOB)).status_code == 403
    assert (await client.get(f"{TASKS}/{task['id']}", headers=ALICE)).json() == task


async def test_fifty_concurrent_moves_into_one_gap_end_distinct_and_between(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    first = await create(client, "first")
    last = await create(client, "last")
    movers = [await create(client, f"m{n}") for n in range(50)]
    await move(client, last, after=first["id"])  # first, last, m0..m49

    async def one(task: dict[str, Any]) -> int:
        response = await client.post(f"{TASKS}/{task['id']}/move", json={"after": first["id"]}, headers=ALICE)
        return response.status_code

    assert await asyncio.gather(*(one(task) for task in movers)) == [200] * 50
    rows = await admin.fetch("SELECT title, position FROM tasks WHERE user_id = 'alice' ORDER BY position")
    keys = [row["position"] for row in rows]
    assert len(set(keys)) == len(keys) == 52
    titles = [row["title"] for row in rows]
    assert (titles[0], titles[-1]) == ("first", "last")  # every mover landed in the gap


def worst_case_longest(moves: int) -> int:
    """The longest key the service leaves after ``moves`` moves, each right after one task, into
    the gap the previous move left (the key grows one character every ~6 moves), rebalancing as it does."""
    low, high, longest = "a0", "a1", 0
    for _ in range(moves):
        high = positions.between(low, high)
        longest = max(longest, len(high))
        if len(high) > positions.LONGEST:  # the service rewrites the place: two consecutive short keys
            low, high = positions.after(high, 2)
    return longest


def test_keys_stay_short_after_ten_thousand_moves_into_one_gap() -> None:
    assert worst_case_longest(10_000) <= positions.LONGEST + 1
    assert worst_case_longest(10_000) > 20  # the bound is what stops it: without, over 1,600 characters


async def test_a_long_key_rebalances_its_place(client: TestClient, admin: asyncpg.Connection) -> None:
    first = await create(client, "first")
    await create(client, "second")
    mover = await create(client, "mover")
    other = await create(client, "other")
    # 400 moves into the gap after first, each before the last one moved: without a rebalance the
    # key would grow past 60 characters.
    for _ in range(200):
        await move(client, mover, after=first["id"])
        await move(client, other, after=first["id"])
    keys = [row["position"] for row in await admin.fetch("SELECT position FROM tasks ORDER BY position")]
    assert max(len(key) for key in keys) <= positions.LONGEST + 1
    assert await in_order(client) == ["first", "other", "mover", "second"]


@pytest.mark.parametrize(("low", "high"), [(None, None), (None, "a0"), ("a0", None), ("a0", "a1"), ("a0V", "a0W")])
def test_between_is_strictly_between(low: str | None, high: str | None) -> None:
    key = positions.between(low, high)
    assert low is None or low < key
    assert high is None or key < high
