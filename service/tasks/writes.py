"""The way a write to one task reaches the database, and why it may not have.

Most writes are one statement. A write that completes an open occurrence of a series also makes
the series' next occurrence, in the same transaction: the statement refuses to complete it alone
(sql/tasks.sql), and ``write`` runs it again, allowed, in a transaction with the next occurrence.
A write that changes a rule, a due_at or a zone is checked against the task as it is first, so a
series can never be left without an occurrence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg
from litestar import Response
from litestar.exceptions import HTTPException, NotFoundException
from msgspec import UNSET

from service.db.pool import Database
from service.db.statements import Executor
from service.http import conditional as etags
from service.http.field_errors import FieldError
from service.http.problems import problem
from service.tasks import positions, queries, recurrence
from service.tasks.schemas import Task, TaskUpdate

# A write to one task, on ``db``; ``completing`` allows it to complete an open occurrence.
Write = Callable[[Executor, bool], Awaitable[Task | None]]

ATTEMPTS = 3  # a write that meets a concurrent change of the same task tries again, this often


def not_found() -> NotFoundException:
    return NotFoundException(detail="task not found")


def precondition_failed(current: datetime) -> HTTPException:
    return problem(
        412,
        "the task has changed since you read it (If-Match does not match its ETag); "
        "nothing was written: fetch it again and retry",
        headers={"ETag": etags.etag(current)},
    )


async def refused(db: Database, user_id: str, task_id: UUID, versions: list[datetime] | None) -> HTTPException:
    """A conditional delete changed nothing: 412 when the task is there with another ETag, else 404."""
    if versions is not None and (current := await queries.task_version(db, user_id=user_id, task_id=task_id)):
        return precondition_failed(current.updated_at)
    return not_found()


async def write(
    db: Database, user_id: str, task_id: UUID, versions: list[datetime] | None, quota: int, change: Write
) -> Response[Task]:
    """The answer to a write: the task with its new ETag, or why nothing was written (404, 409, 412)."""
    return await _write(db, user_id, task_id, versions, quota, change)


async def write_series(
    db: Database,
    user_id: str,
    task_id: UUID,
    versions: list[datetime] | None,
    quota: int,
    data: TaskUpdate,
    change: Callable[[list[datetime] | None], Write],
) -> Response[Task]:
    """``write`` for a PATCH, which may change a rule, due_at or zone: checked against the task as
    it is (``check_series``) and written only over that version, checked again if it changed."""
    for _ in range(ATTEMPTS):
        checked = await check_series(db, user_id, task_id, data, versions)
        try:
            return await _write(db, user_id, task_id, checked, quota, change(checked), ours=versions is None)
        except _Changed:
            continue
    raise _kept_changing()


class _Changed(Exception):
    """The task changed since the version the service itself checked."""


def _kept_changing() -> HTTPException:
    return problem(409, "the task kept changing while this write ran; nothing was written: retry")


async def _write(
    db: Database,
    user_id: str,
    task_id: UUID,
    versions: list[datetime] | None,
    quota: int,
    change: Write,
    *,
    ours: bool = False,
) -> Response[Task]:
    for _ in range(ATTEMPTS):
        task = await _refusing_constraints(change(db, False))
        if task is None:
            version = await queries.task_version(db, user_id=user_id, task_id=task_id)
            if version is None:
                raise not_found()
            if versions is not None and version.updated_at not in versions:
                if ours:
                    raise _Changed
                raise precondition_failed(version.updated_at)
            if version.open_occurrence:
                task = await _completing(db, user_id, task_id, quota, change)
        if task is not None:
            return etags.with_etag(task, task.updated_at)
    raise _kept_changing()


async def _completing(db: Database, user_id: str, task_id: UUID, quota: int, change: Write) -> Task | None:
    """The write, completing an occurrence, with the series' next occurrence, in one transaction."""
    async with db.transaction() as transaction:
        task = await _refusing_constraints(change(transaction, True))
        if task is None or not task.completed or task.recurrence is None:
            return task
        series = await queries.occurrence_of(transaction, user_id=user_id, task_id=task_id)
        # A completed occurrence has all three (the row's CHECK constraints).
        assert series is not None
        assert series.anchor_at is not None
        assert series.due_at is not None
        assert series.completed_at is not None
        due = recurrence.next_occurrence(
            task.recurrence, series.anchor_at, task.time_zone, after=max(series.due_at, series.completed_at)
        )
        if due is None:  # COUNT or UNTIL reached: the series ends here
            return task
        # The counter is locked since the write above: nothing else of the user's moves meanwhile.
        here, following = await queries.next_to_task(transaction, user_id=user_id, task_id=task_id) or (None, None)
        made = await queries.create_next_occurrence(
            transaction,
            user_id=user_id,
            task_id=task_id,
            due_at=due,
            quota=quota,
            position=positions.between(here, following),
        )
        if made is None and not await queries.has_next_occurrence(transaction, user_id=user_id, task_id=task_id):
            raise problem(
                409,
                f"you have {quota:,} tasks, the most one user may have, and completing this one would make its "
                "series' next occurrence: delete some tasks first; nothing was written",
            )
        return task


# The rows' own checks that a request can fail only through the task as stored (a PATCH that
# clears due_at under a rule or reminders): which field to name, and why.
_CHECKS = {
    "tasks_recurrence_needs_due_at": ("due_at", "a recurring task needs a due_at: set recurrence to null with it"),
    "tasks_reminders_need_due_at": ("due_at", "a task with reminders needs a due_at: set reminders to [] with it"),
}


async def _refusing_constraints(statement: Awaitable[Task | None]) -> Task | None:
    try:
        return await statement
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name in _CHECKS:
            raise FieldError(*_CHECKS[exc.constraint_name]) from exc
        raise


async def check_series(
    db: Database, user_id: str, task_id: UUID, data: TaskUpdate, versions: list[datetime] | None
) -> list[datetime] | None:
    """A PATCH of a rule, due_at or zone, checked against the task as it is now: the series it
    leaves must occur. Returns the versions to write under: the client's If-Match, or else the
    version checked, so that a concurrent change makes the write try again rather than slip past."""
    if not data.touches_series:
        return versions
    stored = await queries.occurrence_of(db, user_id=user_id, task_id=task_id)
    if stored is None:
        raise not_found()
    rule = stored.recurrence if data.recurrence is UNSET else data.recurrence
    due = stored.due_at if data.due_at is UNSET else data.due_at
    zone = stored.time_zone if data.time_zone is UNSET else data.time_zone
    if rule is not None:
        if due is None:
            field = "recurrence" if data.recurrence is not UNSET else "due_at"
            raise FieldError(field, "a recurring task needs a due_at, its series' first occurrence")
        # Name what the request changed: its rule, else its due_at, else its zone.
        changed = next(field for field in ("recurrence", "due_at", "time_zone") if getattr(data, field) is not UNSET)
        recurrence.check_occurs(rule, due, zone, changed)
    return versions if versions is not None else [stored.updated_at]
