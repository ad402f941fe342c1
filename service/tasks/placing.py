"""Where a task goes: its list, its parent and its position among its siblings.

A create or a move reads where the task would go and what the rules need (sql/tasks.sql,
create_plan and move_plan), checks the rules here, computes the position key between its
neighbours (service.tasks.positions) and writes one row. Two writes of one user that computed the
same key for one place meet the unique tasks_user_place_position_idx; the loser runs again in a
transaction that locks the user's counter before it reads, where no other write of the user can
slip in between, so it cannot meet another. A key that grew past ``positions.LONGEST`` has its
place rebalanced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import asyncpg
from msgspec import UNSET, UnsetType

from service.db.pool import Database, PinnedDatabase
from service.db.statements import Executor
from service.http.field_errors import FieldError
from service.tasks import positions, queries
from service.tasks.schemas import Task, TaskCreate

PLACE_INDEX = "tasks_user_place_position_idx"
# A write naming a list or parent that went away between its read and its write.
_GONE = {
    "tasks_list_fkey": ("list_id", "no such list"),
    "tasks_parent_fkey": ("parent_id", "no such task"),
}

Placed = TypeVar("Placed")


async def placing(
    db: Database, user_id: str, attempt: Callable[[Executor], Awaitable[Placed]], *, alone: bool = False
) -> Placed:
    """``attempt`` run once as it is, and again, alone, if another write took its position; or at once
    alone (``alone``), for a write that gives a task a parent: the one-level rule it checks holds only
    if no other write of the user can change either task between its read and its write."""
    if isinstance(db, PinnedDatabase):  # in a caller's transaction, where a failed statement would end it
        await queries.lock_counter(db, user_id=user_id)  # held until that commits: nothing can tie
        return await _naming_what_went(attempt(db))
    if not alone:
        try:
            return await _naming_what_went(attempt(db))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != PLACE_INDEX:
                raise
    async with db.transaction() as transaction:
        await queries.lock_counter(transaction, user_id=user_id)
        return await _naming_what_went(attempt(transaction))


async def _naming_what_went(statement: Awaitable[Placed]) -> Placed:
    try:
        return await statement
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name in _GONE:
            raise FieldError(*_GONE[exc.constraint_name]) from exc
        raise


def _given(value: UUID | UnsetType | None) -> tuple[bool, UUID | None]:
    return (False, None) if value is UNSET else (True, value)


async def create(db: Database, *, user_id: str, data: TaskCreate, quota: int) -> Task | None:
    """The new task, last in its place; None when the user has ``quota`` tasks already."""
    list_given, list_id = _given(data.list_id)
    parent_id = None if data.parent_id is UNSET else data.parent_id

    async def attempt(on: Executor) -> Task | None:
        plan = await queries.create_plan(
            on, user_id=user_id, list_given=list_given, list_id=list_id, parent_id=parent_id
        )
        if not plan.list_found:
            raise FieldError("list_id", "no such list")
        if parent_id is not None:
            _check_parent(plan.parent_found, plan.parent_nested, plan.parent_list_id, plan.list_id)
        return await queries.create_task(
            on,
            user_id=user_id,
            data=data,
            quota=quota,
            list_id=plan.list_id,
            parent_id=parent_id,
            position=positions.between(plan.last_position, None),
        )

    return await placing(db, user_id, attempt, alone=parent_id is not None)


def _check_parent(found: bool, nested: bool, parent_list: UUID | None, task_list: UUID | None) -> None:
    if not found:
        raise FieldError("parent_id", "no such task")
    if nested:
        raise FieldError("parent_id", "is a subtask itself: subtasks have one level")
    if parent_list != task_list:
        raise FieldError("parent_id", "is in another list than the task: give the parent's list_id, or none")


async def move(
    db: Database,
    *,
    user_id: str,
    task_id: UUID,
    after: UUID | UnsetType | None,
    list_id: UUID | UnsetType | None = UNSET,
    parent_id: UUID | UnsetType | None = UNSET,
) -> Task | None:
    """The task, moved right after ``after`` (None: first; UNSET: last, unless it is in that place
    already) in ``list_id`` under ``parent_id`` (UNSET: its own; its own parent only while it stays
    in its list). None when the user has no such task."""
    list_given, list_to = _given(list_id)
    parent_given, parent_to = _given(parent_id)
    if after == task_id:
        raise FieldError("after", "a task cannot go after itself")
    if parent_to == task_id:
        raise FieldError("parent_id", "a task cannot be its own parent")

    async def attempt(on: Executor) -> Task | None:
        plan = await queries.move_plan(
            on,
            user_id=user_id,
            task_id=task_id,
            list_given=list_given,
            list_id=list_to,
            parent_given=parent_given,
            parent_id=parent_to,
            after=None if after is UNSET else after,
        )
        if plan is None:
            return None
        if after is UNSET and plan.in_place:  # a PATCH naming the task's own list and parent
            _neighbours(plan, after)
            return await queries.get_task(on, user_id=user_id, task_id=task_id)
        low, high = _neighbours(plan, after)
        task = await queries.move_task(
            on,
            user_id=user_id,
            task_id=task_id,
            list_id=plan.list_id,
            parent_id=plan.parent_id,
            position=positions.between(low, high),
        )
        if task is not None and len(task.position) > positions.LONGEST:
            return await _rebalanced(on, user_id, task)
        return task

    return await placing(db, user_id, attempt, alone=parent_to is not None)


async def check_move(
    db: Executor, *, user_id: str, task_id: UUID, list_id: UUID | UnsetType | None, parent_id: UUID | UnsetType | None
) -> None:
    """A FieldError if the task could not go last in ``list_id`` under ``parent_id``; writes nothing.

    A PUT or PATCH that names them checks first, then writes its content and moves the task, in one
    transaction (service.tasks.controller.placed)."""
    list_given, list_to = _given(list_id)
    parent_given, parent_to = _given(parent_id)
    if parent_to == task_id:
        raise FieldError("parent_id", "a task cannot be its own parent")
    plan = await queries.move_plan(
        db,
        user_id=user_id,
        task_id=task_id,
        list_given=list_given,
        list_id=list_to,
        parent_given=parent_given,
        parent_id=parent_to,
        after=None,
    )
    if plan is not None:
        _neighbours(plan, UNSET)


def _neighbours(plan: queries.MovePlan, after: UUID | UnsetType | None) -> tuple[str | None, str | None]:
    """The positions the task goes between, once the rules hold."""
    if not plan.list_found:
        raise FieldError("list_id", "no such list")
    if plan.parent_id is not None:
        if plan.has_subtasks:
            raise FieldError("parent_id", "the task has subtasks: a task with subtasks cannot become a subtask")
        _check_parent(plan.parent_found, plan.parent_nested, plan.parent_list_id, plan.list_id)
    if after is UNSET:
        return plan.last_position, None
    if after is None:
        return None, plan.next_position
    if not plan.after_found:
        raise FieldError("after", "no such task")
    if (plan.after_list_id, plan.after_parent_id) != (plan.list_id, plan.parent_id):
        raise FieldError("after", "is in another list, or under another parent, than the one the task goes to")
    return plan.after_position, plan.next_position


async def _rebalanced(on: Executor, user_id: str, task: Task) -> Task:
    """The task after its place's keys were rewritten as consecutive short ones."""
    if not isinstance(on, Database):  # already alone in a transaction with the counter locked
        return await _rebalance(on, user_id, task)
    async with on.transaction() as transaction:
        await queries.lock_counter(transaction, user_id=user_id)
        return await _rebalance(transaction, user_id, task)


async def _rebalance(on: Executor, user_id: str, task: Task) -> Task:
    order = await queries.place_order(on, user_id=user_id, list_id=task.list_id, parent_id=task.parent_id)
    if order:
        fresh = list(positions.after(order[-1][1], len(order)))
        await queries.rebalance_place(on, user_id=user_id, task_ids=[id_ for id_, _ in order], positions=fresh)
    moved = await queries.get_task(on, user_id=user_id, task_id=task.id)
    return moved if moved is not None else task
