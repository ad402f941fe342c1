"""ETags: a read can be skipped when nothing changed, and a write refused when something did."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import ALICE, TestClient, problem_of

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("PUT", "", {"title": "mine"}),
    ("PATCH", "", {"title": "mine"}),
    ("PATCH", "/complete", None),
    ("PATCH", "/complete", {"completed": True}),
    ("DELETE", "", None),
]


@pytest.fixture
async def task(client: TestClient) -> Any:
    return await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=ALICE)


def url(task: Any, suffix: str = "") -> str:
    return f"{task.headers['location']}{suffix}"


async def test_every_task_response_carries_an_etag_that_changes_on_every_write(client: TestClient, task: Any) -> None:
    seen = [task.headers["etag"]]
    for method, suffix, body in WRITES[:-1]:
        response = await client.request(method, url(task, suffix), json=body, headers=ALICE)
        seen.append(response.headers["etag"])
        fetched = await client.get(url(task), headers=ALICE)
        assert fetched.headers["etag"] == response.headers["etag"]
    created, put, same_patch, toggled, set_again = seen
    # A write that changes the task makes a new tag; one that changes nothing (the same title
    # again, completing a completed task) keeps it, as the representation is the same.
    assert created != put == same_patch != toggled == set_again
    assert len(set(seen)) == 3
    assert all(tag.startswith('"') and tag.endswith('"') for tag in seen)


async def test_if_none_match_with_the_current_etag_is_304_without_a_body(client: TestClient, task: Any) -> None:
    tag = task.headers["etag"]
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = await client.get(url(task), headers={**ALICE, "If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == tag
    stale = await client.get(url(task), headers={**ALICE, "If-None-Match": '"0"'})
    assert stale.status_code == 200
    assert stale.json() == task.json()


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
async def test_a_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, admin: asyncpg.Connection, task: Any, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    stale = task.headers["etag"]
    current = (await client.patch(url(task), json={"description": "someone else"}, headers=ALICE)).headers["etag"]
    before = await admin.fetch("SELECT * FROM tasks")

    response = await client.request(method, url(task, suffix), json=body, headers={**ALICE, "If-Match": stale})
    assert response.status_code == 412
    assert response.headers["etag"] == current  # what to re-read, and send next time
    assert "nothing was written" in problem_of(response)["detail"]
    assert await admin.fetch("SELECT * FROM tasks") == before


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
async def test_the_current_if_match_lets_the_write_through(
    client: TestClient, task: Any, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    for header in (task.headers["etag"], f'"1", {task.headers["etag"]}'):
        current = (await client.get(url(task), headers=ALICE)).headers["etag"]
        header = header.replace(task.headers["etag"], current)
        response = await client.request(method, url(task, suffix), json=body, headers={**ALICE, "If-Match": header})
        assert response.status_code in {200, 204}, response.text
        if method == "DELETE":
            return


@pytest.mark.parametrize("header", ["*", '"5f2c01a3b4c5d"'])
async def test_if_match_on_a_missing_task_is_404(client: TestClient, header: str) -> None:
    missing = "/api/alice/tasks/00000000-0000-0000-0000-000000000000"
    response = await client.put(missing, json={"title": "x"}, headers={**ALICE, "If-Match": header})
    assert response.status_code == 404


async def test_if_match_star_matches_any_current_task(client: TestClient, task: Any) -> None:
    response = await client.patch(url(task), json={"title": "any"}, headers={**ALICE, "If-Match": "*"})
    assert response.status_code == 200


async def test_a_weak_etag_never_satisfies_if_match(client: TestClient, task: Any) -> None:
    weak = f"W/{task.headers['etag']}"
    response = await client.patch(url(task), json={"title": "x"}, headers={**ALICE, "If-Match": weak})
    assert response.status_code == 412


@pytest.mark.parametrize("header", ["abc", '"unterminated', '"a" "b"', "W/", '"a",,'])
async def test_a_malformed_precondition_is_400(client: TestClient, task: Any, header: str) -> None:
    for method, name in (("PATCH", "If-Match"), ("GET", "If-None-Match")):
        body = {"title": "x"} if method == "PATCH" else None
        response = await client.request(method, url(task), json=body, headers={**ALICE, name: header})
        assert response.status_code == 400, (name, header)
        assert problem_of(response)["errors"][0]["key"] == name


async def test_an_etag_from_far_in_the_future_is_just_stale(client: TestClient, task: Any) -> None:
    response = await client.patch(url(task), json={"title": "x"}, headers={**ALICE, "If-Match": '"ffffffffffffff"'})
    assert response.status_code == 412


async def test_two_writers_with_the_same_etag_one_wins(client: TestClient, task: Any) -> None:
    tag = task.headers["etag"]
    first = await client.patch(url(task), json={"title": "first"}, headers={**ALICE, "If-Match": tag})
    second = await client.patch(url(task), json={"title": "second"}, headers={**ALICE, "If-Match": tag})
    assert (first.status_code, second.status_code) == (200, 412)
    assert (await client.get(url(task), headers=ALICE)).json()["title"] == "first"
