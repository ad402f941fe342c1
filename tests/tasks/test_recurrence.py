"""Recurring tasks through the API: completing an occurrence makes the next, once, in its series."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, BOB, TestClient, create, make_settings, problem_of

DAILY_PARIS = {"due_at": "2027-01-10T08:00:00Z", "recurrence": "FREQ=DAILY", "time_zone": "Europe/Paris"}


async def series(client: TestClient, task: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's series, oldest due first."""
    response = await client.get(
        "/api/alice/tasks", params={"series_id": task["series_id"], "sort": "due_at"}, headers=ALICE
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


async def complete(client: TestClient, task: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await client.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_recurring_task_starts_a_series(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS, reminders=[10, 0])
    assert task["recurrence"] == "FREQ=DAILY"
    assert task["time_zone"] == "Europe/Paris"
    assert task["reminders"] == [10, 0]
    assert task["series_id"] is not None
    plain = await create(client, "Once")
    assert (plain["recurrence"], plain["time_zone"], plain["reminders"], plain["series_id"]) == (None, "UTC", [], None)


@pytest.mark.parametrize(
    "how",
    [
        {},  # toggle
        {"json": {"completed": True}},
    ],
)
async def test_completing_an_occurrence_makes_the_next_with_the_same_content(
    client: TestClient, how: dict[str, Any]
) -> None:
    task = await create(
        client, "Standup", description="daily", priority="high", tags=["work"], reminders=[15], **DAILY_PARIS
    )
    done = await complete(client, task, **how)
    assert done["completed"] is True
    first, second = await series(client, task)
    assert first["id"] == task["id"]
    assert second["completed"] is False
    # 09:00 in Paris, the day after: 08:00Z in winter.
    assert second["due_at"] == "2027-01-11T08:00:00Z"
    for field in ("title", "description", "priority", "tags", "reminders", "recurrence", "time_zone", "series_id"):
        assert second[field] == task[field], field
    assert second["revision"] > done["revision"]


async def test_completing_through_patch_and_put_makes_the_next_too(client: TestClient) -> None:
    for method in ("PATCH", "PUT"):
        task = await create(client, method, **DAILY_PARIS)
        body = {"completed": True} if method == "PATCH" else {"title": method, "completed": True, **DAILY_PARIS}
        response = await client.request(method, f"/api/alice/tasks/{task['id']}", json=body, headers=ALICE)
        assert response.status_code == 200, response.text
        assert len(await series(client, task)) == 2, method


async def test_reopening_and_completing_again_never_makes_a_second_next(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    for _ in range(3):
        await complete(client, task)  # completes
        await complete(client, task)  # re-opens
    await complete(client, task)
    assert [t["completed"] for t in await series(client, task)] == [True, False]


async def test_fifty_concurrent_completions_leave_exactly_one_next(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    answers = await asyncio.gather(
        *(
            client.patch(f"/api/alice/tasks/{task['id']}/complete", json={"completed": True}, headers=ALICE)
            for _ in range(50)
        )
    )
    assert {answer.status_code for answer in answers} == {200}
    assert len(await series(client, task)) == 2


async def test_completing_late_skips_the_missed_occurrences(client: TestClient) -> None:
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3, hours=1)
    task = await create(client, "Water plants", due_at=due.isoformat(), recurrence="FREQ=DAILY")
    await complete(client, task)
    _, following = await series(client, task)
    next_due = datetime.fromisoformat(following["due_at"])
    assert datetime.now(UTC) < next_due <= datetime.now(UTC) + timedelta(days=1)
    assert (next_due - due) % timedelta(days=1) == timedelta(0)  # still on the series' daily beat


async def test_count_ends_the_series(client: TestClient) -> None:
    task = await create(client, "Twice", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY;COUNT=2")
    await complete(client, task)
    _, second = await series(client, task)
    await complete(client, second)
    assert len(await series(client, task)) == 2  # COUNT=2: no third


async def test_a_null_rule_ends_the_series_and_a_new_due_at_restarts_it(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    moved = await client.patch(
        f"/api/alice/tasks/{task['id']}",
        json={"due_at": "2027-02-01T08:00:00Z", "recurrence": "FREQ=WEEKLY;COUNT=2"},
        headers=ALICE,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["series_id"] == task["series_id"]
    occurrences = await client.get(f"/api/alice/tasks/{task['id']}/occurrences", headers=ALICE)
    assert occurrences.json() == ["2027-02-01T08:00:00Z", "2027-02-08T08:00:00Z"]  # restarted: COUNT from here
    ended = await client.patch(f"/api/alice/tasks/{task['id']}", json={"recurrence": None}, headers=ALICE)
    assert (ended.json()["recurrence"], ended.json()["series_id"]) == (None, None)
    await complete(client, ended.json())
    assert len((await client.get("/api/alice/tasks", headers=ALICE)).json()) == 1


async def test_occurrences_start_with_the_task_s_own_due_at(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    response = await client.get(f"/api/alice/tasks/{task['id']}/occurrences", params={"limit": 3}, headers=ALICE)
    assert response.status_code == 200
    assert response.json() == ["2027-01-10T08:00:00Z", "2027-01-11T08:00:00Z", "2027-01-12T08:00:00Z"]
    once = await create(client, "Once", due_at="2027-01-10T08:00:00Z")
    assert (await client.get(f"/api/alice/tasks/{once['id']}/occurrences", headers=ALICE)).json() == [
        "2027-01-10T08:00:00Z"
    ]
    undated = await create(client, "Someday")
    assert (await client.get(f"/api/alice/tasks/{undated['id']}/occurrences", headers=ALICE)).json() == []
    assert (await client.get(f"/api/bob/tasks/{task['id']}/occurrences", headers=BOB)).status_code == 404
    for limit in (0, 51):
        bad = await client.get(f"/api/alice/tasks/{task['id']}/occurrences", params={"limit": limit}, headers=ALICE)
        assert bad.status_code == 400


async def test_the_next_occurrence_is_in_the_change_feed(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    done = await complete(client, task)
    changes = (await client.get("/api/alice/changes", params={"since": task["revision"]}, headers=ALICE)).json()
    assert changes["tasks"][0]["id"] == done["id"]
    assert len(changes["tasks"]) == 2
    assert changes["revision"] == done["revision"] + 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recurrence": "FREQ=DAILY"}, "recurrence"),  # no due_at
        ({"reminders": [10]}, "reminders"),  # no due_at
        ({"due_at": "2027-01-10T08:00:00Z", "recurrence": "FREQ=SECONDLY"}, "recurrence"),
        ({"due_at": "2027-01-10T08:00:00Z", "recurrence": "FREQ=DAILY;BYSETPOS=1"}, "recurrence"),
        ({"due_at": "2027-01-10T08:00:00Z", "recurrence": "FREQ=DAILY;COUNT=2;UNTIL=20270201T000000Z"}, "recurrence"),
        ({"due_at": "2027-01-10T08:00:00Z", "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence"),
        ({"due_at": "2027-01-10T08:00:00Z", "recurrence": "nonsense"}, "recurrence"),
        ({"due_at": "2027-01-10T08:00:00Z", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"due_at": "2027-01-10T08:00:00Z", "reminders": [1, 2, 3, 4, 5, 6]}, "reminders"),
        ({"due_at": "2027-01-10T08:00:00Z", "reminders": [5, 5]}, "reminders"),
        ({"due_at": "2027-01-10T08:00:00Z", "reminders": [-1]}, "reminders"),
        ({"due_at": "2027-01-10T08:00:00Z", "reminders": [40321]}, "reminders"),
    ],
)
async def test_bad_rules_zones_and_reminders_are_400_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/alice/tasks", json={"title": "t", **body}, headers=ALICE)
    assert response.status_code == 400, response.text
    problem = problem_of(response)
    assert [error["key"].split("[")[0] for error in problem["errors"]] == [field], problem


async def test_a_patch_cannot_leave_a_rule_or_reminders_without_a_due_at(client: TestClient) -> None:
    task = await create(client, "Standup", **DAILY_PARIS)
    response = await client.patch(f"/api/alice/tasks/{task['id']}", json={"due_at": None}, headers=ALICE)
    assert response.status_code == 400
    assert [error["key"] for error in problem_of(response)["errors"]] == ["due_at"]
    plain = await create(client, "Plain")
    response = await client.patch(f"/api/alice/tasks/{plain['id']}", json={"recurrence": "FREQ=DAILY"}, headers=ALICE)
    assert [error["key"] for error in problem_of(response)["errors"]] == ["recurrence"]
    reminded = await create(client, "Reminded", due_at="2027-01-10T08:00:00Z", reminders=[5])
    response = await client.patch(f"/api/alice/tasks/{reminded['id']}", json={"due_at": None}, headers=ALICE)
    assert response.status_code == 400
    assert [error["key"] for error in problem_of(response)["errors"]] == ["due_at"]


async def test_completing_at_the_quota_is_409_and_writes_nothing(migrated: str, admin: asyncpg.Connection) -> None:
    from tests.conftest import wipe

    await wipe(admin)
    async with AsyncTestClient(app=create_app(make_settings(migrated, max_tasks_per_user=1))) as capped:
        task = await create(capped, "Standup", **DAILY_PARIS)
        response = await capped.patch(f"/api/alice/tasks/{task['id']}/complete", headers=ALICE)
        assert response.status_code == 409, response.text
        assert (await capped.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).json()["completed"] is False


async def test_a_patch_that_leaves_the_rule_without_an_occurrence_names_what_it_changed(client: TestClient) -> None:
    task = await create(client, "Until", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY;UNTIL=20270115T000000Z")
    response = await client.patch(
        f"/api/alice/tasks/{task['id']}", json={"due_at": "2027-02-01T08:00:00Z"}, headers=ALICE
    )
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == ["due_at"]


async def test_reminders_are_whole_minutes_also_written_as_whole_floats(client: TestClient) -> None:
    task = await create(client, "Float", due_at="2027-01-10T08:00:00Z", reminders=[30.0, 5])
    assert task["reminders"] == [30, 5]
    response = await client.post(
        "/api/alice/tasks", json={"title": "t", "due_at": "2027-01-10T08:00:00Z", "reminders": [1.5]}, headers=ALICE
    )
    assert response.status_code == 400
    assert [error["key"] for error in problem_of(response)["errors"]] == ["reminders[0]"]
