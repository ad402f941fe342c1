"""Priorities, tags, due dates and completion times: written, validated, cleared, counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import ALICE, BOB, TestClient, create, problem_of


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_create_takes_priority_tags_and_due_at(client: TestClient) -> None:
    task = await create(
        client, priority="high", tags=["  Home ", "errands", "HOME", "éTé"], due_at="2026-11-30T17:00:00+01:00"
    )
    assert task["priority"] == "high"
    assert task["tags"] == ["home", "errands", "été"]  # trimmed, lower-cased, first of duplicates kept
    assert at(task["due_at"]) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert task["due_at"].endswith("Z")


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"priority": "urgent"}, "priority"),
        ({"priority": None}, "priority"),
        ({"tags": ["x"] * 11}, "tags"),
        ({"tags": ["   "]}, "tags"),
        ({"tags": ["x" * 33]}, "tags"),
        ({"tags": "home"}, "tags"),
        ({"tags": [1]}, "tags[0]"),
        ({"tags": ["a\x00b"]}, "tags[0]"),
        ({"due_at": "2026-11-30T17:00:00"}, "due_at"),  # no offset: which 17:00?
        ({"due_at": "tomorrow"}, "due_at"),
    ],
)
async def test_bad_new_fields_are_400_naming_the_field(
    client: TestClient, admin: asyncpg.Connection, fields: dict[str, Any], key: str
) -> None:
    response = await client.post("/api/alice/tasks", json={"title": "t", **fields}, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == [key]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize(
    "due_at",
    [
        "0001-01-01T00:00:00Z",  # asyncpg would store it as -infinity
        "9999-12-31T23:59:59.999999Z",  # and this as infinity
        "0001-01-01T01:00:00+05:00",  # before year 1 in UTC: no Python datetime holds it
        "9999-12-31T20:00:00-05:00",  # after year 9999 in UTC
        "9999-12-31T00:00:00Z",
    ],
)
async def test_a_due_date_on_the_first_or_last_day_python_has_is_400(
    client: TestClient, admin: asyncpg.Connection, due_at: str
) -> None:
    for method, url in (("POST", "/api/alice/tasks"), ("GET", "/api/alice/tasks")):
        body, params = ({"title": "t", "due_at": due_at}, None) if method == "POST" else (None, {"due_before": due_at})
        response = await client.request(method, url, json=body, params=params, headers=ALICE)
        assert response.status_code == 400, response.text
        assert "0001-01-02 to 9999-12-30" in problem_of(response)["detail"]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize("due_at", ["0001-01-02T00:00:00+23:59", "9999-12-30T23:59:59.999999-23:59"])
async def test_due_dates_at_the_edges_are_kept_exactly(client: TestClient, due_at: str) -> None:
    task = await create(client, due_at=due_at)
    assert at(task["due_at"]) == at(due_at)
    response = await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)
    assert at(response.json()["due_at"]) == at(due_at)
    listed = await client.get("/api/alice/tasks", params={"due_after": due_at, "sort": "due_at"}, headers=ALICE)
    assert [found["id"] for found in listed.json()] == [task["id"]]


async def test_ten_tags_of_32_characters_are_accepted(client: TestClient) -> None:
    tags = [f"{n}".rjust(32, "x") for n in range(10)]
    assert (await create(client, tags=tags))["tags"] == tags


async def test_put_resets_omitted_new_fields_to_their_defaults(client: TestClient) -> None:
    task = await create(client, priority="high", tags=["a"], due_at="2026-12-01T00:00:00Z")
    response = await client.put(f"/api/alice/tasks/{task['id']}", json={"title": "again"}, headers=ALICE)
    assert response.status_code == 200
    replaced = response.json()
    assert (replaced["priority"], replaced["tags"], replaced["due_at"]) == ("medium", [], None)


async def test_patch_changes_only_the_new_fields_given_and_null_clears_due_at(client: TestClient) -> None:
    task = await create(client, priority="low", tags=["a"], due_at="2026-12-01T00:00:00Z")
    url = f"/api/alice/tasks/{task['id']}"
    tagged = (await client.patch(url, json={"tags": ["B", "c"]}, headers=ALICE)).json()
    assert (tagged["priority"], tagged["tags"], tagged["due_at"]) == ("low", ["b", "c"], task["due_at"])
    cleared = (await client.patch(url, json={"due_at": None, "priority": "high"}, headers=ALICE)).json()
    assert (cleared["priority"], cleared["tags"], cleared["due_at"]) == ("high", ["b", "c"], None)
    assert at(cleared["updated_at"]) > at(tagged["updated_at"]) > at(task["updated_at"])


async def test_patch_of_nothing_names_every_writable_field(client: TestClient) -> None:
    task = await create(client)
    response = await client.patch(f"/api/alice/tasks/{task['id']}", json={}, headers=ALICE)
    assert response.status_code == 400
    assert "title, description, completed, priority, tags, due_at" in problem_of(response)["detail"]


async def test_completed_at_is_set_on_completion_and_cleared_on_reopening(client: TestClient) -> None:
    task = await create(client)
    url = f"/api/alice/tasks/{task['id']}"
    done = (await client.patch(f"{url}/complete", headers=ALICE)).json()
    assert done["completed"] is True
    assert done["completed_at"] == done["updated_at"]
    again = (await client.patch(f"{url}/complete", json={"completed": True}, headers=ALICE)).json()
    assert again["completed_at"] == done["completed_at"]  # completing a completed task changes nothing
    edited = (await client.patch(url, json={"title": "renamed"}, headers=ALICE)).json()
    assert edited["completed_at"] == done["completed_at"]  # still completed at the same time
    reopened = (await client.put(url, json={"title": "renamed", "completed": False}, headers=ALICE)).json()
    assert reopened["completed_at"] is None


async def test_completed_at_is_not_writable(client: TestClient) -> None:
    task = await create(client)
    response = await client.patch(
        f"/api/alice/tasks/{task['id']}", json={"completed_at": "2020-01-01T00:00:00Z"}, headers=ALICE
    )
    assert response.status_code == 400
    assert problem_of(response)["errors"][0]["key"] == "completed_at"


# --- stats, tags and clearing completed tasks ------------------------------------------------------


async def test_stats_count_everything_in_one_answer(client: TestClient) -> None:
    now = datetime.now(UTC)
    await create(client, "overdue", priority="high", tags=["work"], due_at=(now - timedelta(hours=1)).isoformat())
    await create(client, "later", priority="high", tags=["work", "home"], due_at=(now + timedelta(days=3)).isoformat())
    done = await create(client, "done", priority="low", tags=["home"], due_at=(now - timedelta(days=1)).isoformat())
    await client.patch(f"/api/alice/tasks/{done['id']}/complete", headers=ALICE)
    await create(client, "plain")
    await client.post("/api/bob/tasks", json={"title": "bob's", "tags": ["work"]}, headers=BOB)

    response = await client.get("/api/alice/tasks/stats", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {
        "total": 4,
        "completed": 1,
        "open": 3,
        "overdue": 1,  # the completed one is past due too, but done
        "due_today": response.json()["due_today"],  # depends on the hour; checked below
        "by_priority": {"low": 1, "medium": 1, "high": 2},
        "by_tag": {"home": 2, "work": 2},
    }


async def test_due_today_follows_the_time_zone_given(client: TestClient) -> None:
    now = datetime.now(UTC)
    await create(client, "soon", due_at=(now + timedelta(minutes=1)).isoformat())
    # Some zone is already on tomorrow's date at now + 1 minute... and each zone counts by its own calendar.
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        response = await client.get("/api/alice/tasks/stats", params={"tz": zone}, headers=ALICE)
        assert response.status_code == 200
        local_now, local_due = now.astimezone(ZoneInfo(zone)), (now + timedelta(minutes=1)).astimezone(ZoneInfo(zone))
        assert response.json()["due_today"] == int(local_now.date() == local_due.date()), zone


async def test_stats_count_a_completed_overdue_occurrence_as_done_and_its_next_as_due(client: TestClient) -> None:
    now = datetime.now(UTC)
    # A zone where it is about noon, so that an hour from now is still today there.
    offset = (12 - now.hour + 12) % 24 - 12
    zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # the Etc zones' signs are POSIX's, reversed
    assert 10 <= now.astimezone(ZoneInfo(zone)).hour <= 14
    due = now.replace(microsecond=0) - timedelta(hours=23)  # yesterday there: overdue, not due today
    task = await create(client, "Water plants", due_at=due.isoformat(), recurrence="FREQ=DAILY")

    async def stats() -> dict[str, int]:
        response = await client.get("/api/alice/tasks/stats", params={"tz": zone}, headers=ALICE)
        assert response.status_code == 200
        counts: dict[str, int] = response.json()
        return {key: counts[key] for key in ("total", "completed", "open", "overdue", "due_today")}

    assert await stats() == {"total": 1, "completed": 0, "open": 1, "overdue": 1, "due_today": 0}
    await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    # The next occurrence is due an hour from now: open, due today, not overdue.
    assert await stats() == {"total": 2, "completed": 1, "open": 1, "overdue": 0, "due_today": 1}
    # Re-opened, the occurrence is overdue again beside its next.
    await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    assert await stats() == {"total": 2, "completed": 0, "open": 2, "overdue": 1, "due_today": 1}


async def test_stats_of_a_new_user_are_zero(client: TestClient) -> None:
    assert (await client.get("/api/alice/tasks/stats", headers=ALICE)).json() == {
        "total": 0,
        "completed": 0,
        "open": 0,
        "overdue": 0,
        "due_today": 0,
        "by_priority": {"low": 0, "medium": 0, "high": 0},
        "by_tag": {},
    }


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "'; DROP TABLE tasks; --", "x" * 65])
async def test_an_unknown_time_zone_is_400(client: TestClient, zone: str) -> None:
    response = await client.get("/api/alice/tasks/stats", params={"tz": zone}, headers=ALICE)
    assert response.status_code == 400
    assert problem_of(response)["errors"][0]["key"] == "tz"


async def test_tags_lists_each_tag_with_its_count_most_used_first(client: TestClient) -> None:
    await create(client, "a", tags=["work", "home"])
    await create(client, "b", tags=["work"])
    await create(client, "c")
    await client.post("/api/bob/tasks", json={"title": "x", "tags": ["bobs"]}, headers=BOB)
    response = await client.get("/api/alice/tags", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == [{"tag": "work", "tasks": 2}, {"tag": "home", "tasks": 1}]
    assert (await client.get("/api/bob/tags", headers=BOB)).json() == [{"tag": "bobs", "tasks": 1}]


async def test_clearing_completed_tasks_removes_only_those_and_says_how_many(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    kept = await create(client, "open")
    for title in ("done 1", "done 2"):
        task = await create(client, title)
        await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    bobs = (await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)).json()
    await client.patch(f"/api/bob/tasks/{bobs['id']}/complete", headers=BOB)

    response = await client.delete("/api/alice/tasks", params={"completed": "true"}, headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert [task["id"] for task in (await client.get("/api/alice/tasks", headers=ALICE)).json()] == [kept["id"]]
    assert await admin.fetchval("SELECT count(*) FROM tasks WHERE user_id = 'bob'") == 1
    again = await client.delete("/api/alice/tasks", params={"completed": "true"}, headers=ALICE)
    assert again.json() == {"deleted": 0}


@pytest.mark.parametrize("params", [{}, {"completed": "false"}, {"completed": "maybe"}])
async def test_clearing_needs_completed_true(
    client: TestClient, admin: asyncpg.Connection, params: dict[str, str]
) -> None:
    task = await create(client)
    await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    response = await client.delete("/api/alice/tasks", params=params, headers=ALICE)
    assert response.status_code == 400
    assert problem_of(response)["errors"][0]["key"] == "completed"
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 1


async def test_a_task_id_of_stats_is_not_confused_with_the_stats_route(client: TestClient) -> None:
    task = await create(client)
    assert (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json()["id"] == task["id"]
    assert "total" in (await client.get("/api/alice/tasks/stats", headers=ALICE)).json()
    assert UUID(task["id"])
