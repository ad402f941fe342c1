"""One typed function per named statement of sql/trash.sql."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from service.db.statements import Executor, Many, One, Val
from service.tasks.schemas import Task
from service.trash.schemas import TrashedTask

LIST_TRASH = Many.bind("list_trash")
LIST_TRASH_AFTER = Many.bind("list_trash_after")
RESTORE_TASK = One.bind("restore_task")
IN_TRASH = Val.bind("in_trash")
PURGE_TRASHED_TASK = Val.bind("purge_trashed_task")
EMPTY_TRASH = Val.bind("empty_trash")


async def list_trash(
    db: Executor, *, user_id: str, limit: int, after: tuple[datetime, UUID] | None = None
) -> list[TrashedTask]:
    """Up to ``limit`` trashed tasks, the latest deleted first, from after the position ``after``."""
    if after is None:
        rows = await db.fetch(LIST_TRASH.sql, user_id, limit)
    else:
        rows = await db.fetch(LIST_TRASH_AFTER.sql, user_id, *after, limit)
    return [TrashedTask(*row) for row in rows]


async def restore_task(db: Executor, *, user_id: str, task_id: UUID, quota: int) -> Task | None:
    """The task, live again with its subtasks; None when it is not in the trash or that would take
    the user past ``quota`` tasks."""
    row = await db.fetchrow(RESTORE_TASK.sql, user_id, task_id, quota)
    return Task(*row) if row else None


async def in_trash(db: Executor, *, user_id: str, task_id: UUID) -> bool:
    found: bool = await db.fetchval(IN_TRASH.sql, user_id, task_id)
    return found


async def purge_trashed_task(db: Executor, *, user_id: str, task_id: UUID) -> bool:
    """Delete the trashed task for good; False when it is not in the trash."""
    purged: UUID | None = await db.fetchval(PURGE_TRASHED_TASK.sql, user_id, task_id)
    return purged is not None


async def empty_trash(db: Executor, *, user_id: str) -> int:
    emptied: int = await db.fetchval(EMPTY_TRASH.sql, user_id)
    return emptied
