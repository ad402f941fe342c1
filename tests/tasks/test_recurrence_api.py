"""Recurring tasks on the calendar, through the API: daylight saving, short months, BYDAY with
INTERVAL against dateutil's own expansion, UNTIL, early completion; then what completing does to
reminders, the trash and the series, and what another user can do to it (nothing).

Each test completes occurrences one after another and reads the due dates the series got.
tests/tasks/test_recurrence.py covers the write flow itself (once, concurrently, quota).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from dateutil.rrule import rrulestr

from tests.conftest import ALICE, BOB, TestClient, create


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def in_hours(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


async def complete(client: TestClient, task: dict[str, Any], *, completed: bool | None = True) -> dict[str, Any]:
    body = None if completed is None else {"completed": completed}
    response = await client.patch(f"/api/alice/tasks/{task['id']}/complete", json=body, headers=ALICE)
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


async def series(client: TestClient, task: dict[str, Any], **filters: Any) -> list[dict[str, Any]]:
    """The live occurrences of the task's series, by due date (then by creation)."""
    params = {"series_id": task["series_id"], "sort": "due_at", **filters}
    response = await client.get("/api/alice/tasks", params=params, headers=ALICE)
    assert response.status_code == 200, response.text
    return sorted(response.json(), key=lambda occurrence: (occurrence["due_at"], occurrence["created_at"]))


async def open_occurrences(client: TestClient, task: dict[str, Any]) -> list[dict[str, Any]]:
    return await series(client, task, completed="false")


async def due_dates(client: TestClient, task: dict[str, Any], completions: int) -> list[str]:
    """Complete the series' open occurrence ``completions`` times; the due dates it had, in order."""
    dates, current = [task["due_at"]], task
    for _ in range(completions):
        await complete(client, current)
        following = await open_occurrences(client, task)
        if not following:
            break
        [current] = following
        dates.append(current["due_at"])
    return dates


async def preview(client: TestClient, task: dict[str, Any], limit: int) -> list[str]:
    response = await client.get(f"/api/alice/tasks/{task['id']}/occurrences", params={"limit": limit}, headers=ALICE)
    assert response.status_code == 200, response.text
    dates: list[str] = response.json()
    return dates


# --- the calendar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "due", "following"),
    [
        # 09:00 in Paris: CET (+01) on the 27th, CEST (+02) from the 28th of March 2027.
        ("Europe/Paris", "2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z"),
        # And back on the 31st of October.
        ("Europe/Paris", "2027-10-30T07:00:00Z", "2027-10-31T08:00:00Z"),
        # 09:00 in New York: EST (-05) to EDT (-04) on the 14th of March, back on the 7th of November.
        ("America/New_York", "2027-03-13T14:00:00Z", "2027-03-14T13:00:00Z"),
        ("America/New_York", "2027-11-06T13:00:00Z", "2027-11-07T14:00:00Z"),
    ],
    ids=["paris-march", "paris-october", "new-york-march", "new-york-november"],
)
async def test_a_daily_task_keeps_its_wall_clock_time_across_daylight_saving(
    client: TestClient, zone: str, due: str, following: str
) -> None:
    task = await create(client, "Standup", due_at=due, recurrence="FREQ=DAILY", time_zone=zone)
    assert await due_dates(client, task, 1) == [due, following]
    local = [datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)) for moment in (due, following)]
    assert {moment.strftime("%H:%M") for moment in local} == {"09:00"}
    assert await preview(client, task, 2) == [due, following]  # what the preview promised


@pytest.mark.parametrize(
    ("zone", "due", "following"),
    [
        # 02:30 does not exist in Paris on the 28th of March 2027 (02:00 -> 03:00): 03:30 CEST that day,
        # back at 02:30 the day after.
        ("Europe/Paris", "2027-03-27T01:30:00Z", ["2027-03-28T01:30:00Z", "2027-03-29T00:30:00Z"]),
        ("America/New_York", "2027-03-13T07:30:00Z", ["2027-03-14T07:30:00Z", "2027-03-15T06:30:00Z"]),
    ],
    ids=["paris", "new-york"],
)
async def test_a_time_the_clocks_skip_moves_forward_by_the_gap(
    client: TestClient, zone: str, due: str, following: list[str]
) -> None:
    task = await create(client, "Night job", due_at=due, recurrence="FREQ=DAILY", time_zone=zone)
    dates = await due_dates(client, task, 2)
    assert dates == [due, *following]
    local = [datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)).strftime("%H:%M") for moment in dates]
    assert local == ["02:30", "03:30", "02:30"]


async def test_a_time_that_occurs_twice_is_its_first(client: TestClient) -> None:
    # 02:30 happens twice in Paris on the 31st of October 2027: at 00:30Z (CEST) and at 01:30Z (CET).
    task = await create(
        client, "Night job", due_at="2027-10-30T00:30:00Z", recurrence="FREQ=DAILY", time_zone="Europe/Paris"
    )
    assert await due_dates(client, task, 2) == ["2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]


@pytest.mark.parametrize("rule", ["FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY"])
async def test_the_31st_of_every_month_skips_the_shorter_months(client: TestClient, rule: str) -> None:
    task = await create(client, "Invoices", due_at="2027-01-31T10:00:00Z", recurrence=rule)
    months = [moment[:10] for moment in await due_dates(client, task, 6)]
    assert months == ["2027-01-31", "2027-03-31", "2027-05-31", "2027-07-31", "2027-08-31", "2027-10-31", "2027-12-31"]


@pytest.mark.parametrize(
    "anchor",
    [
        datetime(2027, 3, 1, 8, 30),  # a Monday
        datetime(2027, 3, 3, 8, 30),  # a Wednesday: RFC 5545 counts DTSTART as the first occurrence anyway
    ],
    ids=["from-a-monday", "from-a-wednesday"],
)
async def test_every_other_week_on_monday_and_friday_is_dateutil_s_expansion(
    client: TestClient, anchor: datetime
) -> None:
    rule, zone = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", ZoneInfo("Europe/Paris")
    first = utc(anchor.replace(tzinfo=zone))
    task = await create(client, "Review", due_at=first, recurrence=rule, time_zone="Europe/Paris")
    completions = 9  # into May: across the change to summer time on the 28th of March
    # dateutil expands the rule in local wall time from the anchor; each date is then read in the zone.
    local = islice((moment for moment in rrulestr(rule, dtstart=anchor) if moment > anchor), completions)
    expected = [first, *(utc(moment.replace(tzinfo=zone)) for moment in local)]
    dates = await due_dates(client, task, completions)
    assert dates == expected
    assert {datetime.fromisoformat(moment).astimezone(zone).strftime("%a %H:%M") for moment in dates[1:]} == {
        "Mon 08:30",
        "Fri 08:30",
    }


@pytest.mark.parametrize(
    ("until", "occurrences"),
    [
        ("20270112T080000Z", 3),  # UNTIL is inclusive: the 12th at 08:00Z is the last
        ("20270112T075959Z", 2),
        ("20270112", 3),  # a date: through that day in the task's zone
    ],
)
async def test_until_ends_the_series(client: TestClient, until: str, occurrences: int) -> None:
    task = await create(client, "Course", due_at="2027-01-10T08:00:00Z", recurrence=f"FREQ=DAILY;UNTIL={until}")
    expected = [f"2027-01-{10 + day}T08:00:00Z" for day in range(occurrences)]
    assert await preview(client, task, 10) == expected
    assert await due_dates(client, task, occurrences + 1) == expected
    assert [occurrence["completed"] for occurrence in await series(client, task)] == [True] * occurrences


async def test_completing_early_gives_the_occurrence_after_its_due_at(client: TestClient) -> None:
    due = in_hours(24 * 3)
    task = await create(client, "Water plants", due_at=utc(due), recurrence="FREQ=DAILY")
    done = await complete(client, task)
    assert datetime.fromisoformat(done["completed_at"]) < due  # done three days early...
    [following] = await open_occurrences(client, task)
    assert following["due_at"] == utc(due + timedelta(days=1))  # ...the next is still the day after due_at


# --- reminders, the series, the trash ---------------------------------------------------------------


async def reminders(client: TestClient, user: str = "alice", headers: dict[str, str] = ALICE) -> list[dict[str, Any]]:
    window = {"from": utc(in_hours(-1)), "to": utc(in_hours(24 * 3))}
    response = await client.get(f"/api/{user}/reminders", params=window, headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def test_the_next_occurrence_keeps_the_reminders_and_only_its_own_are_listed(client: TestClient) -> None:
    due = in_hours(2)
    task = await create(client, "Call mum", due_at=utc(due), recurrence="FREQ=DAILY", reminders=[60, 0])
    assert [(r["task_id"], r["minutes_before"]) for r in await reminders(client)] == [(task["id"], 60), (task["id"], 0)]
    await complete(client, task)
    [following] = await open_occurrences(client, task)
    assert following["reminders"] == [60, 0]
    next_due = due + timedelta(days=1)
    assert [(r["task_id"], r["remind_at"], r["due_at"]) for r in await reminders(client)] == [
        (following["id"], utc(next_due - timedelta(minutes=60)), utc(next_due)),
        (following["id"], utc(next_due), utc(next_due)),
    ]
    # Re-opened, the completed one has its reminders back.
    await complete(client, task, completed=False)
    assert {r["task_id"] for r in await reminders(client)} == {task["id"], following["id"]}


async def test_completed_occurrences_stay_completed_in_the_series(client: TestClient) -> None:
    task = await create(client, "Standup", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY")
    await due_dates(client, task, 2)
    occurrences = await series(client, task)
    assert [(o["due_at"][:10], o["completed"]) for o in occurrences] == [
        ("2027-01-10", True),
        ("2027-01-11", True),
        ("2027-01-12", False),
    ]
    assert all(o["completed_at"] is not None for o in occurrences[:2])
    assert occurrences[0]["id"] == task["id"]
    assert [o["id"] for o in await series(client, task, completed="true")] == [o["id"] for o in occurrences[:2]]
    assert len({o["series_id"] for o in occurrences}) == 1


async def test_trashing_the_next_then_completing_again_makes_a_new_next(client: TestClient) -> None:
    """The trash frees the place of an occurrence's next: once it is trashed, re-opening and
    completing the occurrence makes another next, due when the trashed one was."""
    task = await create(client, "Standup", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY")
    await complete(client, task)
    [trashed] = await open_occurrences(client, task)
    assert (await client.delete(f"/api/alice/tasks/{trashed['id']}", headers=ALICE)).status_code == 204
    await complete(client, task, completed=False)
    await complete(client, task)
    [replacement] = await open_occurrences(client, task)
    assert replacement["id"] != trashed["id"]
    assert replacement["due_at"] == trashed["due_at"] == "2027-01-11T08:00:00Z"
    assert [o["id"] for o in await series(client, task)] == [task["id"], replacement["id"]]


async def test_completing_again_makes_no_next_when_the_series_goes_on_past_a_trashed_one(
    client: TestClient,
) -> None:
    """Its next trashed after that one was completed in turn, an occurrence completed again has
    no next to make: the series already has its open occurrence, due later."""
    task = await create(client, "Standup", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY")
    await complete(client, task)
    [second] = await open_occurrences(client, task)
    await complete(client, second)
    [third] = await open_occurrences(client, task)
    assert (await client.delete(f"/api/alice/tasks/{second['id']}", headers=ALICE)).status_code == 204
    await complete(client, task, completed=False)
    await complete(client, task)  # not a 409 either: nothing was refused
    assert [(o["id"], o["completed"]) for o in await series(client, task)] == [(task["id"], True), (third["id"], False)]


async def test_restoring_a_next_whose_place_was_taken_succeeds_and_it_leads_on_its_own(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    task = await create(client, "Standup", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY")
    await complete(client, task)
    [trashed] = await open_occurrences(client, task)
    await client.delete(f"/api/alice/tasks/{trashed['id']}", headers=ALICE)
    await complete(client, task, completed=False)
    await complete(client, task)
    [replacement] = await open_occurrences(client, task)

    restored = await client.post(f"/api/alice/trash/{trashed['id']}/restore", headers=ALICE)
    assert restored.status_code == 200, restored.text
    # Both open, due the same day: the series shows what happened rather than hiding a task.
    assert [o["id"] for o in await open_occurrences(client, task)] == [trashed["id"], replacement["id"]]
    # It no longer follows the first occurrence: the replacement does.
    follows = dict(await admin.fetch("SELECT id::text, follows::text FROM tasks WHERE user_id = 'alice'"))
    assert (follows[trashed["id"]], follows[replacement["id"]]) == (None, task["id"])
    # So completing the first again makes nothing, and completing the restored one makes its own next.
    await complete(client, task, completed=False)
    await complete(client, task)
    assert len(await series(client, task)) == 3
    await complete(client, restored.json())
    assert [o["due_at"][:10] for o in await series(client, task)] == [
        "2027-01-10",
        "2027-01-11",
        "2027-01-11",
        "2027-01-12",
    ]


async def test_a_restored_next_whose_place_is_free_is_the_next_again(client: TestClient) -> None:
    task = await create(client, "Standup", due_at="2027-01-10T08:00:00Z", recurrence="FREQ=DAILY")
    await complete(client, task)
    [trashed] = await open_occurrences(client, task)
    await client.delete(f"/api/alice/tasks/{trashed['id']}", headers=ALICE)
    assert (await client.post(f"/api/alice/trash/{trashed['id']}/restore", headers=ALICE)).status_code == 200
    await complete(client, task, completed=False)
    await complete(client, task)
    assert [o["id"] for o in await series(client, task)] == [task["id"], trashed["id"]]  # no third


# --- another user ----------------------------------------------------------------------------------


async def test_another_user_can_neither_see_nor_complete_nor_preview_a_series(client: TestClient) -> None:
    task = await create(
        client, "Standup", due_at=utc(in_hours(2)), recurrence="FREQ=DAILY", reminders=[0], time_zone="Europe/Paris"
    )
    await complete(client, task)
    [following] = await open_occurrences(client, task)
    bob = f"/api/bob/tasks/{following['id']}"
    assert (await client.get(bob, headers=BOB)).status_code == 404
    assert (await client.get(f"{bob}/occurrences", headers=BOB)).status_code == 404
    assert (await client.patch(f"{bob}/complete", headers=BOB)).status_code == 404
    assert (await client.patch(f"{bob}/complete", json={"completed": True}, headers=BOB)).status_code == 404
    assert (await client.patch(bob, json={"recurrence": None}, headers=BOB)).status_code == 404
    assert (await client.delete(bob, headers=BOB)).status_code == 404
    listed = await client.get("/api/bob/tasks", params={"series_id": task["series_id"]}, headers=BOB)
    assert (listed.status_code, listed.json()) == (200, [])
    # Through alice's path, bob's token is refused outright.
    assert (await client.patch(f"/api/alice/tasks/{following['id']}/complete", headers=BOB)).status_code == 403
    assert (await client.get("/api/alice/reminders", headers=BOB)).status_code == 403
    # Bob's own series and reminders never show alice's.
    await client.post(
        "/api/bob/tasks",
        json={"title": "Bob's", "due_at": utc(in_hours(3)), "recurrence": "FREQ=DAILY", "reminders": [0]},
        headers=BOB,
    )
    assert [r["title"] for r in await reminders(client, "bob", BOB)] == ["Bob's"]
    # And alice's series is as she left it.
    assert [(o["id"], o["completed"]) for o in await series(client, task)] == [
        (task["id"], True),
        (following["id"], False),
    ]
    assert [r["task_id"] for r in await reminders(client)] == [following["id"]]
