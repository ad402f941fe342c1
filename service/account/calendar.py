"""The calendar export: each open task with a due date as an RFC 5545 VTODO, written by icalendar.

DUE is written on the wall clock of the task's ``time_zone`` (with its VTIMEZONE), so the task's
RRULE repeats at the same local time across daylight saving, as the service expands it. Each
reminder is a VALARM whose trigger is relative to DUE (``RELATED=END``, for a VTODO).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from icalendar import Alarm, Calendar, Todo, vRecur

from service.db.statements import Executor, Many

CALENDAR_TASKS = Many.bind("calendar_tasks")
PRODUCT = "-//Task API//Tasks//EN"
# RFC 5545 PRIORITY: 1 is the highest, 9 the lowest, 5 the middle; 0 would mean none.
PRIORITIES = {"high": 1, "medium": 5, "low": 9}


async def calendar(db: Executor, *, user_id: str) -> bytes:
    """The user's open tasks with a due date as one VCALENDAR."""
    rows = await db.fetch(CALENDAR_TASKS.sql, user_id)
    document = Calendar()
    document.add("prodid", PRODUCT)
    document.add("version", "2.0")
    stamp = datetime.now(UTC)
    for row in rows:
        document.add_component(_todo(row, stamp))
    document.add_missing_timezones()
    written: bytes = document.to_ical()
    return written


def _todo(row: asyncpg.Record, stamp: datetime) -> Todo:
    todo = Todo()
    todo.add("uid", str(row["id"]))
    todo.add("dtstamp", stamp)
    todo.add("created", row["created_at"])
    todo.add("last-modified", row["updated_at"])
    todo.add("summary", row["title"])
    if row["description"] is not None:
        todo.add("description", row["description"])
    todo.add("due", row["due_at"].astimezone(ZoneInfo(row["time_zone"])))
    todo.add("status", "NEEDS-ACTION")
    todo.add("priority", PRIORITIES[row["priority"]])
    if row["tags"]:
        todo.add("categories", list(row["tags"]))
    if row["recurrence"] is not None:
        todo.add("rrule", vRecur.from_ical(row["recurrence"]))
    for minutes in row["reminders"]:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", row["title"])
        alarm.add("trigger", -timedelta(minutes=minutes), parameters={"RELATED": "END"})
        todo.add_component(alarm)
    return todo
