"""One typed function per named statement of sql/sync.sql."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from service.db.statements import Executor, Many
from service.lists.schemas import TaskList
from service.tasks.schemas import Task

CHANGES = Many.bind("changes")

# The columns of a row of ``changes`` before the task's, which follow in Task's field order.
_TASK_FROM = 3


class Feed(msgspec.Struct, frozen=True):
    """A page of the user's changes, and their counter as the page read it."""

    latest: int  # the user's revision
    horizon: int  # changes up to here may be forgotten
    tasks: list[Task]
    deleted: list[UUID]
    lists: list[TaskList]
    deleted_lists: list[UUID]
    has_more: bool
    revision: int  # what the client has seen after this page


async def changes(db: Executor, *, user_id: str, since: int, limit: int) -> Feed:
    """Up to ``limit`` changes after revision ``since``, oldest first, each task at most once."""
    rows = await db.fetch(CHANGES.sql, user_id, since, limit + 1)
    latest = rows[0]["latest"] or 0
    changed = [row for row in rows if row["revision"] is not None]
    has_more = len(changed) > limit
    del changed[limit:]
    return Feed(
        latest=latest,
        horizon=rows[0]["horizon"] or 0,
        tasks=[Task(*row[_TASK_FROM:]) for row in changed if row["kind"] == "task"],
        deleted=[row["id"] for row in changed if row["kind"] == "deleted_task"],
        lists=[_list(row) for row in changed if row["kind"] == "list"],
        deleted_lists=[row["id"] for row in changed if row["kind"] == "deleted_list"],
        has_more=has_more,
        revision=changed[-1]["revision"] if has_more else latest,
    )


def _list(row: asyncpg.Record) -> TaskList:
    """A list from a row of ``changes``, which carries its name in the title column."""
    return TaskList(row["id"], row["user_id"], row["title"], row["revision"], row["created_at"], row["updated_at"])
