"""The reminders' shape."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class Reminder(msgspec.Struct):
    """One reminder of an open task: when, and of what."""

    task_id: UUID
    title: str
    due_at: datetime
    remind_at: datetime  # due_at less minutes_before
    minutes_before: int
