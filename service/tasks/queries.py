"""One typed function per named SQL statement. An ``asyncpg.Record`` never leaves this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from msgspec import UNSET

from service.db.pool import DB
from service.db.sql import SQL
from service.tasks.schemas import Task, TaskCreate, TaskReplace, TaskStats, TaskUpdate
from service.tasks.statements import TaskQuery, list_statement

# Task(*row) builds a task from a row positionally, far cheaper than Task(**row): every
# statement returning tasks lists the columns in Task's field order (tests/test_sql.py checks).


async def list_tasks(db: DB, *, user_id: str, query: TaskQuery) -> list[Task]:
    """One page of the user's tasks, at most ``query.limit`` of them."""
    sql, args = list_statement(user_id, query)
    rows = await db.fetch(sql, *args)
    return [Task(*row) for row in rows]


async def create_task(db: DB, *, user_id: str, data: TaskCreate, quota: int) -> Task | None:
    """The new task, or None when the user already has ``quota`` tasks."""
    row = await db.fetchrow(
        SQL["create_task"], user_id, data.title, data.description, data.priority, data.tags, data.due_at, quota
    )
    return Task(*row) if row else None


async def get_task(db: DB, *, user_id: str, task_id: UUID) -> Task | None:
    row = await db.fetchrow(SQL["get_task"], user_id, task_id)
    return Task(*row) if row else None


# The writes to one task take ``versions``: the updated_at values an If-Match header allows
# (None: unconditional). A write whose precondition fails changes nothing and returns None, as
# for a missing task; task_version tells the two apart.


async def task_version(db: DB, *, user_id: str, task_id: UUID) -> datetime | None:
    version: datetime | None = await db.fetchval(SQL["task_version"], user_id, task_id)
    return version


async def replace_task(
    db: DB, *, user_id: str, task_id: UUID, data: TaskReplace, versions: list[datetime] | None = None
) -> Task | None:
    row = await db.fetchrow(
        SQL["replace_task"],
        user_id,
        task_id,
        data.title,
        data.description,
        data.priority,
        data.tags,
        data.due_at,
        versions,
        data.completed,
    )
    return Task(*row) if row else None


def _given(value: Any) -> Any:
    return None if value is UNSET else value


async def update_task(
    db: DB, *, user_id: str, task_id: UUID, data: TaskUpdate, versions: list[datetime] | None = None
) -> Task | None:
    row = await db.fetchrow(
        SQL["update_task"],
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
    )
    return Task(*row) if row else None


async def toggle_task(db: DB, *, user_id: str, task_id: UUID, versions: list[datetime] | None = None) -> Task | None:
    row = await db.fetchrow(SQL["toggle_task"], user_id, task_id, versions)
    return Task(*row) if row else None


async def set_task_completed(
    db: DB, *, user_id: str, task_id: UUID, completed: bool, versions: list[datetime] | None = None
) -> Task | None:
    row = await db.fetchrow(SQL["set_task_completed"], user_id, task_id, completed, versions)
    return Task(*row) if row else None


async def delete_task(db: DB, *, user_id: str, task_id: UUID, versions: list[datetime] | None = None) -> bool:
    deleted: UUID | None = await db.fetchval(SQL["delete_task"], user_id, task_id, versions)
    return deleted is not None


async def delete_completed_tasks(db: DB, *, user_id: str) -> int:
    deleted: int = await db.fetchval(SQL["delete_completed_tasks"], user_id)
    return deleted


async def task_stats(db: DB, *, user_id: str, time_zone: str) -> TaskStats:
    row = await db.fetchrow(SQL["task_stats"], user_id, time_zone)
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
