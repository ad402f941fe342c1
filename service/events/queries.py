"""One typed function per named statement of sql/events.sql and sql/scheduler.sql."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.db.statements import Exec, Executor, Many, Val
from service.events.schemas import Fired
from service.reminders.schemas import Reminder

CURRENT_REVISION = Val.bind("current_revision")
FIRE_DUE_REMINDERS = Many.bind("fire_due_reminders")
ANNOUNCE_REMINDERS = Exec.bind("announce_reminders")
NEXT_REMINDER_AT = Val.bind("next_reminder_at")


async def current_revision(db: Executor, *, user_id: str) -> int:
    """The user's revision (0 for a user who never wrote)."""
    revision: int | None = await db.fetchval(CURRENT_REVISION.sql, user_id)
    return revision or 0


async def fire_due_reminders(
    db: Executor, *, now: datetime, batch: int, late_before: datetime
) -> tuple[int, list[Fired]]:
    """Mark up to ``batch`` reminders due at ``now`` fired: how many were, and those due from ``late_before`` on."""
    rows = await db.fetch(FIRE_DUE_REMINDERS.sql, now, batch, late_before)
    return len(rows), [Fired(row[1], Reminder(*row[2:])) for row in rows if row[0]]


async def announce_reminders(db: Executor, *, payloads: Sequence[str]) -> None:
    """Announce fired reminders to every process, when the caller's transaction commits."""
    await db.execute(ANNOUNCE_REMINDERS.sql, payloads)


async def next_reminder_at(db: Executor) -> datetime | None:
    """When the soonest unfired reminder is due, across users; None when none is."""
    moment: datetime | None = await db.fetchval(NEXT_REMINDER_AT.sql)
    return moment
