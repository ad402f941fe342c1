"""One typed function per named SQL statement. An ``asyncpg.Record`` never leaves this module."""

from __future__ import annotations

from uuid import UUID

from msgspec import UNSET

from service import sqlfile
from service.database import DB
from service.schemas import Task, TaskCreate, TaskReplace, TaskUpdate

SQL = {name: query.sql for name, query in sqlfile.load().items()}

# Task(*row) builds a task from a row positionally, far cheaper than Task(**row): every
# statement returning tasks lists the columns in Task's field order (tests/test_sql.py checks).


async def list_tasks(db: DB, *, user_id: str) -> list[Task]:
    rows = await db.fetch(SQL["list_tasks"], user_id)
    return [Task(*row) for row in rows]


async def create_task(db: DB, *, user_id: str, data: TaskCreate) -> Task:
    row = await db.fetchrow(SQL["create_task"], user_id, data.title, data.description)
    assert row is not None  # INSERT ... RETURNING always returns the row
    return Task(*row)


async def get_task(db: DB, *, user_id: str, task_id: UUID) -> Task | None:
    row = await db.fetchrow(SQL["get_task"], user_id, task_id)
    return Task(*row) if row else None


async def replace_task(db: DB, *, user_id: str, task_id: UUID, data: TaskReplace) -> Task | None:
    row = await db.fetchrow(SQL["replace_task"], user_id, task_id, data.title, data.description, data.completed)
    return Task(*row) if row else None


async def update_task(db: DB, *, user_id: str, task_id: UUID, data: TaskUpdate) -> Task | None:
    row = await db.fetchrow(
        SQL["update_task"],
        user_id,
        task_id,
        None if data.title is UNSET else data.title,
        data.description is not UNSET,
        None if data.description is UNSET else data.description,
        None if data.completed is UNSET else data.completed,
    )
    return Task(*row) if row else None


async def toggle_task(db: DB, *, user_id: str, task_id: UUID) -> Task | None:
    row = await db.fetchrow(SQL["toggle_task"], user_id, task_id)
    return Task(*row) if row else None


async def set_task_completed(db: DB, *, user_id: str, task_id: UUID, completed: bool) -> Task | None:
    row = await db.fetchrow(SQL["set_task_completed"], user_id, task_id, completed)
    return Task(*row) if row else None


async def delete_task(db: DB, *, user_id: str, task_id: UUID) -> bool:
    deleted: UUID | None = await db.fetchval(SQL["delete_task"], user_id, task_id)
    return deleted is not None


async def applied_migrations(db: DB, *, migration_ids: list[str]) -> set[str]:
    rows = await db.fetch(SQL["applied_migrations"], migration_ids)
    return {row["migration_id"] for row in rows}
