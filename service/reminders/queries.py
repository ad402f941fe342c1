"""One typed function per named statement of sql/reminders.sql."""

from __future__ import annotations

from datetime import datetime

from service.db.statements import Executor, Many
from service.reminders.schemas import Reminder

LIST_REMINDERS = Many.bind("list_reminders")


async def list_reminders(db: Executor, *, user_id: str, start: datetime, end: datetime) -> list[Reminder]:
    """The user's reminders due in [start, end), soonest first."""
    return [Reminder(*row) for row in await db.fetch(LIST_REMINDERS.sql, user_id, start, end)]
