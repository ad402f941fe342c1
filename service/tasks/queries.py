"""One typed function per named SQL statement. An ``asyncpg.Record`` never leaves this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from msgspec import UNSET

from service.db.statements import Exec, Executor, Many, One, Val
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
CREATE_PLAN = One.bind("create_plan")
MOVE_PLAN = One.bind("move_plan")
MOVE_TASK = One.bind("move_task")
NEXT_TO_TASK = One.bind("next_to_task")
LOCK_COUNTER = Exec.bind("lock_counter")
PLACE_ORDER = Many.bind("place_order")
REBALANCE_PLACE = Exec.bind("rebalance_place")


async def list_tasks(db: Executor, *, user_id: str, query: TaskQuery) -> list[Task]:
    """One page of the user's tasks, and the first task of the next page when there is one."""
    sql, args = list_statement(user_id, query)
    rows = await db.fetch(sql, *args)
    return [Task(*row) for row in rows]


async def create_task(
    db: Executor,
    *,
    user_id: str,
    data: TaskCreate,
    quota: int,
    list_id: UUID | None = None,
    parent_id: UUID | None = None,
    position: str | None = None,
) -> Task | None:
    """The new task, at ``position`` in ``list_id`` under ``parent_id`` (None: one made from its id,
    near the start: sql/tasks.sql); None when the user already has ``quota`` tasks."""
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
        list_id,
        parent_id,
        position,
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
    db: Executor, *, user_id: str, task_id: UUID, due_at: datetime, quota: int, position: str
) -> Task | None:
    """The next occurrence of the completed occurrence ``task_id``, at ``position`` in its place;
    None when it has one already, or no room."""
    row = await db.fetchrow(CREATE_NEXT_OCCURRENCE.sql, user_id, task_id, due_at, quota, position)
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


async def task_stats(db: Executor, *, user_id: str, time_zone: str, list_id: UUID | None = None) -> TaskStats:
    """The user's totals; with ``list_id``, of that list's tasks (the nil uuid: the inbox's)."""
    row = await db.fetchrow(TASK_STATS.sql, user_id, time_zone, list_id)
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


class CreatePlan(msgspec.Struct, frozen=True):
    """Where a new task goes, and what the rules need to know about it (sql/tasks.sql, create_plan)."""

    list_id: UUID | None
    list_found: bool
    parent_found: bool
    parent_list_id: UUID | None
    parent_nested: bool
    last_position: str | None


async def create_plan(
    db: Executor, *, user_id: str, list_given: bool, list_id: UUID | None, parent_id: UUID | None
) -> CreatePlan:
    row = await db.fetchrow(CREATE_PLAN.sql, user_id, list_given, list_id, parent_id)
    assert row is not None  # a SELECT from one row of VALUES
    return CreatePlan(*row)


class MovePlan(msgspec.Struct, frozen=True):
    """Where a task would go, and what the rules need to know (sql/tasks.sql, move_plan)."""

    list_id: UUID | None
    parent_id: UUID | None
    has_subtasks: bool
    list_found: bool
    parent_found: bool
    parent_list_id: UUID | None
    parent_nested: bool
    after_found: bool
    after_list_id: UUID | None
    after_parent_id: UUID | None
    after_position: str | None
    next_position: str | None
    last_position: str | None
    in_place: bool


async def move_plan(
    db: Executor,
    *,
    user_id: str,
    task_id: UUID,
    list_given: bool,
    list_id: UUID | None,
    parent_given: bool,
    parent_id: UUID | None,
    after: UUID | None,
) -> MovePlan | None:
    """None when the user has no such task."""
    row = await db.fetchrow(MOVE_PLAN.sql, user_id, task_id, list_given, list_id, parent_given, parent_id, after)
    return MovePlan(*row) if row else None


async def move_task(
    db: Executor, *, user_id: str, task_id: UUID, list_id: UUID | None, parent_id: UUID | None, position: str
) -> Task | None:
    row = await db.fetchrow(MOVE_TASK.sql, user_id, task_id, list_id, parent_id, position)
    return Task(*row) if row else None


async def next_to_task(db: Executor, *, user_id: str, task_id: UUID) -> tuple[str, str | None] | None:
    """The task's position and the one that follows it in its place; None when there is no such task."""
    row = await db.fetchrow(NEXT_TO_TASK.sql, user_id, task_id)
    return (row["position"], row["next_position"]) if row else None


async def lock_counter(db: Executor, *, user_id: str) -> None:
    await db.execute(LOCK_COUNTER.sql, user_id)


async def place_order(
    db: Executor, *, user_id: str, list_id: UUID | None, parent_id: UUID | None
) -> list[tuple[UUID, str]]:
    """The ids and positions of one place's tasks, in order."""
    return [(row["id"], row["position"]) for row in await db.fetch(PLACE_ORDER.sql, user_id, list_id, parent_id)]


async def rebalance_place(db: Executor, *, user_id: str, task_ids: list[UUID], positions: list[str]) -> None:
    await db.execute(REBALANCE_PLACE.sql, user_id, task_ids, positions)
