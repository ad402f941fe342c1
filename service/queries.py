"""One typed function per named SQL statement. An ``asyncpg.Record`` never leaves this module."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, partial
from typing import Any
from uuid import UUID

from msgspec import UNSET

from service import sqlfile
from service.database import DB
from service.listing import TaskQuery
from service.schemas import TagCount, Task, TaskCreate, TaskReplace, TaskStats, TaskUpdate

SQL = {name: query.sql for name, query in sqlfile.load().items()}

# Task(*row) builds a task from a row positionally, far cheaper than Task(**row): every
# statement returning tasks lists the columns in Task's field order (tests/test_sql.py checks).


# The filters of a TaskQuery, each with the fragment that applies it.
_FILTERS = (
    ("completed", "filter_completed"),
    ("priorities", "filter_priority"),
    ("tags", "filter_tags"),
    ("due_before", "filter_due_before"),
    ("due_after", "filter_due_after"),
    ("overdue", "filter_overdue"),
    ("search", "filter_search"),
)
_PARAMETER = re.compile(r"\$(\d+)")


@cache
def _list_sql(filters: tuple[str, ...], sort: str, descending: bool, positioned: bool) -> str:
    """list_tasks with the named fragments appended, each one's $n following those before it.

    Only fragment names and the two fixed direction words reach the text; the cache holds one
    statement per shape a client has asked for (at most a few thousand, a few hundred bytes each).
    """
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    names = [*filters, *([f"position_{sort}"] if positioned else []), f"order_{sort}", "page_limit"]
    parts, bound = [SQL["list_tasks"]], 1  # $1 is user_id
    for name in names:
        fragment = SQL[name].format(op=op, dir=direction) if name.startswith(("position_", "order_")) else SQL[name]
        parts.append(_PARAMETER.sub(partial(_renumber, offset=bound), fragment))
        bound += len(set(_PARAMETER.findall(fragment)))
    return "\n".join(parts)


def _renumber(match: re.Match[str], *, offset: int) -> str:
    return f"${int(match[1]) + offset}"


def list_statement(user_id: str, query: TaskQuery) -> tuple[str, list[Any]]:
    """The list_tasks statement for ``query`` and its arguments."""
    filters = [(fragment, getattr(query, field)) for field, fragment in _FILTERS if getattr(query, field) is not None]
    sql = _list_sql(tuple(fragment for fragment, _ in filters), query.sort, query.descending, query.after is not None)
    return sql, [user_id, *(value for _, value in filters), *(query.after or ()), query.limit]


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


async def list_tags(db: DB, *, user_id: str) -> list[TagCount]:
    return [TagCount(*row) for row in await db.fetch(SQL["list_tags"], user_id)]


async def applied_migrations(db: DB, *, migration_ids: list[str]) -> set[str]:
    rows = await db.fetch(SQL["applied_migrations"], migration_ids)
    return {row["migration_id"] for row in rows}
