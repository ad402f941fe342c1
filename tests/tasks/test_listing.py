"""The task list: filters, search, sort orders and keyset pages that neither skip nor repeat."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.conftest import ALICE, BOB, TestClient, create, problem_of

LIST = "/api/alice/tasks"
NOW = datetime.now(UTC)


async def titles(client: TestClient, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params, headers=ALICE)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


def due(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


@pytest.fixture
async def tasks(client: TestClient) -> dict[str, dict[str, Any]]:
    """Five of alice's tasks with distinct fields, created in this order, and one of bob's."""
    made = {
        "Buy milk": await create(client, "Buy milk", priority="high", tags=["home", "errands"], due_at=due(-2)),
        "Write report": await create(client, "Write report", description="quarterly numbers", tags=["work"]),
        "call mum": await create(client, "call mum", priority="low", tags=["home"], due_at=due(30)),
        "Gym": await create(client, "Gym", priority="high", due_at=due(5)),
        "Milkshake recipe": await create(client, "Milkshake recipe", priority="low", description="banana"),
    }
    await client.patch(f"{LIST}/{made['Gym']['id']}/complete", headers=ALICE)
    await client.post("/api/bob/tasks", json={"title": "Buy milk", "tags": ["home"], "priority": "high"}, headers=BOB)
    return made


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Milkshake recipe", "Gym", "call mum", "Write report", "Buy milk"]),
        ({"completed": "true"}, ["Gym"]),
        ({"completed": "false"}, ["Milkshake recipe", "call mum", "Write report", "Buy milk"]),
        ({"priority": "high"}, ["Gym", "Buy milk"]),
        ({"priority": ["low", "high"]}, ["Milkshake recipe", "Gym", "call mum", "Buy milk"]),
        ({"tag": "home"}, ["call mum", "Buy milk"]),
        ({"tag": " HOME "}, ["call mum", "Buy milk"]),
        ({"tag": ["home", "errands"]}, ["Buy milk"]),  # carrying all of them
        ({"tag": "nothing"}, []),
        ({"due_before": NOW.isoformat()}, ["Buy milk"]),
        ({"due_after": NOW.isoformat()}, ["Gym", "call mum"]),
        ({"due_after": due(-2), "due_before": due(5)}, ["Buy milk"]),  # after is inclusive, before is not
        ({"overdue": "true"}, ["Buy milk"]),
        ({"overdue": "false"}, ["Milkshake recipe", "Gym", "call mum", "Write report"]),
        ({"q": "milk"}, ["Milkshake recipe", "Buy milk"]),  # words starting with milk
        ({"q": "milks"}, ["Milkshake recipe"]),
        ({"q": "MILK"}, ["Milkshake recipe", "Buy milk"]),
        ({"q": "ilk"}, []),  # the start of a word, not any substring
        ({"q": "quarter"}, ["Write report"]),  # the description counts too
        ({"q": "buy mi"}, ["Buy milk"]),  # every word must match
        ({"q": "milk, (report) & !x:*"}, []),  # operators are just punctuation
        ({"q": "write & report"}, ["Write report"]),
        ({"q": "!!! ..."}, []),  # no word to look for: nothing matches
        ({"q": "null"}, []),  # a word like any other, not "no filter"
        ({"q": "milk " + "x" * 195}, []),  # 200 characters, the most q takes (201 is a 400 below)
        ({"priority": "high", "completed": "false", "tag": "home", "q": "buy"}, ["Buy milk"]),
    ],
)
async def test_filters(client: TestClient, tasks: dict[str, Any], params: dict[str, Any], expected: list[str]) -> None:
    assert await titles(client, **params) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created_at", ["Milkshake recipe", "Gym", "call mum", "Write report", "Buy milk"]),
        ("created_at", ["Buy milk", "Write report", "call mum", "Gym", "Milkshake recipe"]),
        ("title", ["Buy milk", "call mum", "Gym", "Milkshake recipe", "Write report"]),  # case-insensitive
        ("-title", ["Write report", "Milkshake recipe", "Gym", "call mum", "Buy milk"]),
        ("priority", ["call mum", "Milkshake recipe", "Write report", "Buy milk", "Gym"]),  # then oldest first
        ("-priority", ["Gym", "Buy milk", "Write report", "Milkshake recipe", "call mum"]),
        ("-updated_at", ["Gym", "Milkshake recipe", "call mum", "Write report", "Buy milk"]),
    ],
)
async def test_sorts(client: TestClient, tasks: dict[str, Any], sort: str, expected: list[str]) -> None:
    assert await titles(client, sort=sort) == expected


async def test_undated_tasks_sort_as_due_at_infinity_ties_by_id(client: TestClient, tasks: dict[str, Any]) -> None:
    undated = sorted(["Write report", "Milkshake recipe"], key=lambda title: tasks[title]["id"])
    assert await titles(client, sort="due_at") == ["Buy milk", "Gym", "call mum", *undated]
    assert await titles(client, sort="-due_at") == [*undated[::-1], "call mum", "Gym", "Buy milk"]


def next_link(response: Any) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match[1]


async def all_pages(client: TestClient, url: str, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages = []
    response = await client.get(url, params=params or None, headers=ALICE)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = next_link(response)
        if link is None:
            return pages
        response = await client.get(link, headers=ALICE)


@pytest.mark.parametrize(
    "sort", ["-created_at", "created_at", "title", "-due_at", "priority", "-priority", "updated_at"]
)
async def test_pages_cover_the_list_once_in_order(client: TestClient, admin: asyncpg.Connection, sort: str) -> None:
    # Ties everywhere: equal titles, priorities and due dates, so only the id keeps the order stable.
    await admin.execute(
        """
        INSERT INTO tasks (user_id, title, priority, due_at, created_at, updated_at)
        SELECT 'alice', 'Task ' || (n % 3), (ARRAY['low', 'high']::task_priority[])[1 + n % 2],
               CASE WHEN n % 4 = 0 THEN '2026-12-01T00:00:00Z'::timestamptz END,
               '2026-11-01T00:00:00Z'::timestamptz + (n % 5) * interval '1 minute',
               '2026-11-01T00:00:00Z'::timestamptz
        FROM generate_series(1, 47) AS n
        """
    )
    whole = (await client.get(LIST, params={"sort": sort, "limit": 200}, headers=ALICE)).json()
    pages = await all_pages(client, LIST, {"sort": sort, "limit": 10})
    assert [len(page) for page in pages] == [10, 10, 10, 10, 7]
    assert [task["id"] for page in pages for task in page] == [task["id"] for task in whole]


async def test_the_next_link_keeps_the_filters(client: TestClient, tasks: dict[str, Any]) -> None:
    pages = await all_pages(client, LIST, {"tag": "home", "priority": ["high", "low"], "limit": 1})
    assert [[task["title"] for task in page] for page in pages] == [["call mum"], ["Buy milk"]]


async def test_a_full_last_page_has_no_next_link(client: TestClient, tasks: dict[str, Any]) -> None:
    response = await client.get(LIST, params={"limit": 5}, headers=ALICE)
    assert len(response.json()) == 5
    assert "link" not in response.headers


async def test_pages_neither_skip_nor_repeat_while_tasks_are_added(client: TestClient, tasks: dict[str, Any]) -> None:
    first = await client.get(LIST, params={"limit": 2}, headers=ALICE)
    await create(client, "Added meanwhile")  # newest: belongs before the page already read
    rest = await all_pages(client, next_link(first) or "", {})
    seen = [task["title"] for task in first.json()] + [task["title"] for page in rest for task in page]
    assert seen == ["Milkshake recipe", "Gym", "call mum", "Write report", "Buy milk"]


async def test_the_default_page_is_100(client: TestClient, admin: asyncpg.Connection) -> None:
    await admin.execute("INSERT INTO tasks (user_id, title) SELECT 'alice', 't' || n FROM generate_series(1, 101) n")
    response = await client.get(LIST, headers=ALICE)
    assert len(response.json()) == 100
    assert next_link(response) is not None
    assert len((await client.get(LIST, params={"limit": 200}, headers=ALICE)).json()) == 101


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "nope"}, "sort"),
        ({"sort": "--title"}, "sort"),
        ({"priority": "urgent"}, "priority"),
        ({"completed": "maybe"}, "completed"),
        ({"overdue": "soon"}, "overdue"),
        ({"due_before": "2026-01-01T00:00:00"}, "due_before"),  # no offset
        ({"due_after": "yesterday"}, "due_after"),
        ({"tag": "x" * 33}, "tag"),
        ({"tag": "  "}, "tag"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "x" * 2049}, "cursor"),
        ({"complete": "true"}, "complete"),  # a typo is not silently ignored
        ({"page": "2"}, "page"),
        ({"tag": "a\x00b"}, "tag"),  # PostgreSQL text cannot hold NUL
        # What only a lenient reading accepts: "null" is not "no filter", 1 is not true, 5.0 is not 5.
        ({"overdue": "null"}, "overdue"),
        ({"completed": "1"}, "completed"),
        ({"completed": "True"}, "completed"),
        ({"due_before": "null"}, "due_before"),
        ({"due_after": "0"}, "due_after"),
        ({"limit": "5.0"}, "limit"),
        ({"limit": "+5"}, "limit"),
        ({"limit": ["5", "7"]}, "limit"),  # one value only: which would count?
        ({"sort": ["title", "-title"]}, "sort"),
        ({"q": ["milk", "gym"]}, "q"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: TestClient, tasks: dict[str, Any], params: dict[str, str], key: str
) -> None:
    response = await client.get(LIST, params=params, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == [key]


@pytest.mark.parametrize(
    ("sort", "position"),
    [
        ("title", "a\x00b"),  # PostgreSQL text cannot hold NUL
        ("due_at", "0001-01-01T01:00:00+05:00"),  # before year 1 in UTC: asyncpg cannot send it
        ("created_at", "9999-12-31T23:00:00-05:00"),
        ("created_at", "0001-01-01T00:00:00Z"),  # asyncpg would send -infinity
        ("updated_at", "2026-11-22T10:00:00"),  # the service writes every time with its offset
    ],
)
async def test_an_edited_cursor_is_refused_not_sent_to_the_database(
    client: TestClient, sort: str, position: str
) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps([sort, position, str(uuid.uuid4())]).encode()).decode()
    response = await client.get(LIST, params={"sort": sort, "cursor": cursor.rstrip("=")}, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == ["cursor"]


async def test_a_cursor_is_only_good_for_its_sort(client: TestClient, tasks: dict[str, Any]) -> None:
    link = next_link(await client.get(LIST, params={"sort": "title", "limit": 1}, headers=ALICE))
    assert link is not None
    cursor = link.rpartition("cursor=")[2]
    response = await client.get(LIST, params={"sort": "-title", "cursor": cursor}, headers=ALICE)
    assert response.status_code == 400
    assert "sort=title" in problem_of(response)["detail"]


async def test_unknown_parameters_are_refused_on_every_endpoint(client: TestClient, tasks: dict[str, Any]) -> None:
    task_id = tasks["Gym"]["id"]
    for method, url in [("GET", f"{LIST}/{task_id}"), ("GET", "/api/alice/lists"), ("DELETE", f"{LIST}/{task_id}")]:
        response = await client.request(method, url, params={"x": "1"}, headers=ALICE)
        assert response.status_code == 400, (method, url)
        assert "this endpoint takes none" in problem_of(response)["detail"]
    assert (await client.get(f"{LIST}/{task_id}", headers=ALICE)).status_code == 200  # nothing was deleted


async def test_the_longest_titles_still_page_by_title(client: TestClient) -> None:
    # 200 four-byte characters: the largest position a cursor has to carry.
    for mark in ("😀", "😁", "😂"):
        await create(client, mark * 200)
    pages = await all_pages(client, LIST, {"sort": "title", "limit": 1})
    assert [page[0]["title"][0] for page in pages] == ["😀", "😁", "😂"]
