"""One typed function per named SQL statement. An ``asyncpg.Record`` never leaves this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from msgspec import UNSET

from service.db.statements import Executor, One, Val
from service.tasks.schemas import Task, TaskCreate, TaskReplace, TaskStats, TaskUpdate
from service.tasks.statements import TaskQuery, list_statement

# Task(*row) builds a task from a row positionally, far cheaper than Task(**row): every
# statement returning tasks lists the columns in Task's field order (tests/db/test_sql.py checks).

CREATE_TASK = One.bind("create_task")
GET_TASK = One.bind("get_task")
TASK_VERSION = One.bind("task_version")
OCCURRENCE_OF = One.bind("occurrence_of")
CREATE_NEXT_OCCURRENCE = One.bind("create_next_occurrence")
HAS_NEXT_OCCURRENCE = Val.bind("has_next_occurrence")
REPLACE_TASK = One.bind("replace_task")
UPDATE_TASK = One.bind("update_task")
TOGGLE_TASK = One.bind("toggle_task")
SET_TASK_COMPLETED = One.bind("set_task_completed")
TRASH_TASK = Val.bind("trash_task")
TRASH_COMPLETED_TASKS = Val.bind("trash_completed_tasks")
TASK_STATS = One.bind("task_stats")


async def list_tasks(db: Executor, *, user_id: str, query: TaskQuery) -> list[Task]:
    """One page of the user's tasks, and the first task of the next page when there is one."""
    sql, args = list_statement(user_id, query)
    rows = await db.fetch(sql, *args)
    return [Task(*row) for row in rows]


async def create_task(db: Executor, *, user_id: str, data: TaskCreate, quota: int) -> Task | None:
    """The new task, or None when the user already has ``quota`` tasks."""
    row = await db.fetchrow(
        CREATE_TASK.sql,
        user_id,
        data.title,
        data.description,
        data.priority,
        data.tags,
        data.due_at,
        quota,
        data.recurrence,
        data.time_zone,
        data.reminders,
    )
    return Task(*row) if row else None


async def get_task(db: Executor, *, user_id: str, task_id: UUID) -> Task | None:
    row = await db.fetchrow(GET_TASK.sql, user_id, task_id)
    return Task(*row) if row else None


# The writes to one task take ``versions``: the updated_at values an If-Match header allows
# (None: unconditional). A write whose precondition fails changes nothing and returns None, as
# for a missing task; task_version tells the two apart. So does a write that would complete an
# open occurrence of a series without ``completing`` (sql/tasks.sql says why).


class Version(msgspec.Struct, frozen=True):
    updated_at: datetime
    open_occurrence: bool  # completing it makes the series' next occurrence


async def task_version(db: Executor, *, user_id: str, task_id: UUID) -> Version | None:
    row = await db.fetchrow(TASK_VERSION.sql, user_id, task_id)
    return Version(*row) if row else None


class Occurrence(msgspec.Struct, frozen=True):
    """What expanding a task's series takes."""

    recurrence: str | None
    time_zone: str
    anchor_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


async def occurrence_of(db: Executor, *, user_id: str, task_id: UUID) -> Occurrence | None:
    row = await db.fetchrow(OCCURRENCE_OF.sql, user_id, task_id)
    return Occurrence(*row) if row else None


async def create_next_occurrence(
    db: Executor, *, user_id: str, task_id: UUID, due_at: datetime, quota: int
) -> Task | None:
    """The next occurrence of the completed occurrence ``task_id``; None when it has one already, or no room."""
    row = await db.fetchrow(CREATE_NEXT_OCCURRENCE.sql, user_id, task_id, due_at, quota)
    return Task(*row) if row else None


async def has_next_occurrence(db: Executor, *, user_id: str, task_id: UUID) -> bool:
    found: bool = await db.fetchval(HAS_NEXT_OCCURRENCE.sql, user_id, task_id)
    return found


async def replace_task(
    db: Executor,
    *,
    user_id: str,
    task_id: UUID,
    data: TaskReplace,
    versions: list[datetime] | None = None,
    completing: bool = False,
) -> Task | None:
    row = await db.fetchrow(
        REPLACE_TASK.sql,
        user_id,
        task_id,
        data.title,
        data.description,
        data.priority,
        data.tags,
        data.due_at,
        versions,
        data.completed,
        data.recurrence,
        data.time_zone,
        data.reminders,
        completing,
    )
    return Task(*row) if row else None


def _given(value: Any) -> Any:
    return None if value is UNSET else value


async def update_task(
    db: Executor,
    *,
    user_id: str,
    task_id: UUID,
    data: TaskUpdate,
    versions: list[datetime] | None = None,
    completing: bool = False,
) -> Task | None:
    row = await db.fetchrow(
        UPDATE_TASK.sql,
        user_id,
        task_id,
        _given(data.title),
        data.description is not UNSET,
        _given(data.description),
        _given(data.completed),
        _given(data.priority),
        _given(data.tags),
        versions,
        data.due_at is not UNSET,
        _given(data.due_at),
        data.recurrence is not UNSET,
        _given(data.recurrence),
        _given(data.time_zone),
        _given(data.reminders),
        completing,
    )
    return Task(*row) if row else None


async def toggle_task(
    db: Executor, *, user_id: str, task_id: UUID, versions: list[datetime] | None = None, completing: bool = False
) -> Task | None:
    row = await db.fetchrow(TOGGLE_TASK.sql, user_id, task_id, versions, completing)
    return Task(*row) if row else None


async def set_task_completed(
    db: Executor,
    *,
    user_id: str,
    task_id: UUID,
    completed: bool,
    versions: list[datetime] | None = None,
    completing: bool = False,
) -> Task | None:
    row = await db.fetchrow(SET_TASK_COMPLETED.sql, user_id, task_id, completed, versions, completing)
    return Task(*row) if row else None


async def trash_task(db: Executor, *, user_id: str, task_id: UUID, versions: list[datetime] | None = None) -> bool:
    """Move the task to the trash; False when there was no such task (or the precondition failed)."""
    trashed: UUID | None = await db.fetchval(TRASH_TASK.sql, user_id, task_id, versions)
    return trashed is not None


async def trash_completed_tasks(db: Executor, *, user_id: str) -> int:
    """Move every completed task to the trash; how many went."""
    trashed: int = await db.fetchval(TRASH_COMPLETED_TASKS.sql, user_id)
    return trashed


async def task_stats(db: Executor, *, user_id: str, time_zone: str) -> TaskStats:
    row = await db.fetchrow(TASK_STATS.sql, user_id, time_zone)
    assert row is not None  # an aggregate without GROUP BY always has its row
    return TaskStats(
        total=row["total"],
        completed=row["completed"],
        open=row["open"],
        overdue=row["overdue"],
        due_today=row["due_today"],
        by_priority={"low": row["low"], "medium": row["medium"], "high": row["high"]},
        by_tag=dict(zip(row["tag_names"], row["tag_counts"], strict=True)),
    )
