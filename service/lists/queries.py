"""One typed function per named statement of sql/lists.sql."""

from __future__ import annotations

from uuid import UUID

from service.db.statements import Executor, Many, One, Val
from service.lists.schemas import TaskList

LIST_LISTS = Many.bind("list_lists")
GET_LIST = One.bind("get_list")
CREATE_LIST = One.bind("create_list")
RENAME_LIST = One.bind("rename_list")
DELETE_LIST = Val.bind("delete_list")


async def list_lists(db: Executor, *, user_id: str) -> list[TaskList]:
    return [TaskList(*row) for row in await db.fetch(LIST_LISTS.sql, user_id)]


async def get_list(db: Executor, *, user_id: str, list_id: UUID) -> TaskList | None:
    row = await db.fetchrow(GET_LIST.sql, user_id, list_id)
    return TaskList(*row) if row else None


async def create_list(db: Executor, *, user_id: str, name: str, quota: int) -> TaskList | None:
    """The new list; None when the user already has ``quota`` lists. A name taken raises UniqueViolationError."""
    row = await db.fetchrow(CREATE_LIST.sql, user_id, name, quota)
    return TaskList(*row) if row else None


async def rename_list(db: Executor, *, user_id: str, list_id: UUID, name: str) -> TaskList | None:
    row = await db.fetchrow(RENAME_LIST.sql, user_id, list_id, name)
    return TaskList(*row) if row else None


async def delete_list(db: Executor, *, user_id: str, list_id: UUID) -> bool:
    """Delete the list and move its tasks to the trash; False when there was no such list."""
    deleted: UUID | None = await db.fetchval(DELETE_LIST.sql, user_id, list_id)
    return deleted is not None
