"""The calendar export, read back with the library a calendar app would trust."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.conftest import ALICE, BOB, TestClient

ICS = "/api/alice/export.ics"


async def test_each_open_task_with_a_due_date_is_a_vtodo_with_every_field(client: TestClient) -> None:
    task = await client.post(
        "/api/alice/tasks",
        json={
            "title": "Water, the plants; now",
            "description": "Line one\nline two",
            "priority": "high",
            "tags": ["home", "garden"],
            "due_at": "2027-03-26T09:00:00+01:00",
            "recurrence": "FREQ=WEEKLY;BYDAY=FR,MO",
            "time_zone": "Europe/Paris",
            "reminders": [0, 30],
        },
        headers=ALICE,
    )
    plain = await client.post(
        "/api/alice/tasks", json={"title": "Plain", "due_at": "2027-01-01T00:00:00Z"}, headers=ALICE
    )
    undated = await client.post("/api/alice/tasks", json={"title": "Undated"}, headers=ALICE)
    done = await client.post(
        "/api/alice/tasks", json={"title": "Done", "due_at": "2027-01-01T00:00:00Z"}, headers=ALICE
    )
    await client.patch(f"/api/alice/tasks/{done.json()['id']}/complete", headers=ALICE)
    assert undated.status_code == 201
    await client.post("/api/bob/tasks", json={"title": "Bob's", "due_at": "2027-01-01T00:00:00Z"}, headers=BOB)

    response = await client.get(ICS, headers=ALICE)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    parsed: Any = Calendar.from_ical(response.content)  # icalendar's property types are a wide union
    todos: dict[str, Any] = {str(todo["UID"]): todo for todo in parsed.walk("VTODO")}
    assert set(todos) == {task.json()["id"], plain.json()["id"]}
    todo = todos[task.json()["id"]]
    assert str(todo["SUMMARY"]) == "Water, the plants; now"
    assert str(todo["DESCRIPTION"]) == "Line one\nline two"
    due = todo.decoded("DUE")
    assert due == datetime(2027, 3, 26, 8, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(hours=1)  # on the wall clock of Paris
    assert todo["DUE"].params["TZID"] == "Europe/Paris"
    assert str(todo["STATUS"]) == "NEEDS-ACTION"
    assert int(todo["PRIORITY"]) == 1
    assert todo["CATEGORIES"].cats == ["home", "garden"]
    assert todo["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=FR,MO"
    assert [str(zone["TZID"]) for zone in parsed.walk("VTIMEZONE")] == ["Europe/Paris"]
    alarms = todo.walk("VALARM")
    assert sorted(alarm.decoded("TRIGGER") for alarm in alarms) == [-timedelta(minutes=30), timedelta(0)]
    assert all(alarm["TRIGGER"].params["RELATED"] == "END" for alarm in alarms)
    assert all(str(alarm["ACTION"]) == "DISPLAY" for alarm in alarms)
    other = todos[plain.json()["id"]]
    assert (int(other["PRIORITY"]), "RRULE" in other, other.walk("VALARM")) == (5, False, [])
    assert other.decoded("DUE") == datetime(2027, 1, 1, tzinfo=ZoneInfo("UTC"))
    assert b"Bob" not in response.content


async def test_nobody_exports_another_users_calendar(client: TestClient) -> None:
    assert (await client.get(ICS, headers=BOB)).status_code == 403
    empty = await client.get("/api/bob/export.ics", headers=BOB)
    parsed: Any = Calendar.from_ical(empty.content)
    assert parsed.walk("VTODO") == []
