"""The trash routes: list, restore, purge one, empty."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from service.db.pool import InjectedDatabase
from service.http import conditional as etags
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId, problem_response
from service.http.field_errors import FieldError
from service.http.problems import problem
from service.tasks import listing, placing
from service.tasks.controller import TaskId
from service.tasks.docs import ETAG, NEXT_PAGE
from service.tasks.schemas import Deleted, Task, storable
from service.trash import queries
from service.trash.schemas import TrashedTask

NOT_IN_TRASH = problem_response("No such task in this user's trash.")
_Position = tuple[datetime, UUID]


def not_in_trash() -> NotFoundException:
    return NotFoundException(detail="task not in the trash")


def encode_cursor(task: TrashedTask) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode((task.deleted_at, task.id))).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> _Position:
    """The position a trash cursor holds; a FieldError naming ``cursor`` if this service did not make it."""
    try:
        deleted_at, task_id = msgspec.json.decode(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=_Position
        )
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise FieldError("cursor", listing.NOT_OURS, "query") from exc
    if deleted_at.tzinfo is None or not storable(deleted_at):
        raise FieldError("cursor", listing.NOT_OURS, "query")
    return deleted_at, task_id


class TrashController(Controller):
    path = "/api/{user_id:str}/trash"
    tags = ("trash",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List the trash",
        description="The user's deleted tasks, the latest deleted first, each with `deleted_at`; paged like "
        'the task list (`Link: <...>; rel="next"` while more remain). A task stays here TRASH_RETENTION_DAYS '
        "(30 by default), then is purged. Trashed tasks count toward no quota and appear in no list, search, "
        "statistics or tags.",
        responses=AUTH_PROBLEMS,
        response_headers=[NEXT_PAGE],
    )
    async def list_trash(
        self,
        request: Request[Any, Any, Any],
        db: InjectedDatabase,
        user_id: UserId,
        limit: Annotated[int, QueryParameter(ge=1, le=listing.LIMIT_MAX, description="Tasks per page.")] = (
            listing.LIMIT_DEFAULT
        ),
        cursor: Annotated[
            str | None,
            QueryParameter(
                max_length=listing.CURSOR_MAX,
                description="Where the page starts: opaque, from the previous page's `Link` header.",
            ),
        ] = None,
    ) -> Response[list[TrashedTask]]:
        after = decode_cursor(cursor) if cursor else None
        tasks = await queries.list_trash(db, user_id=user_id, limit=limit + 1, after=after)
        if len(tasks) <= limit:
            return Response(tasks)
        del tasks[limit:]
        return Response(tasks, headers={"Link": listing.next_page(request, encode_cursor(tasks[-1]))})

    @post(
        "/{task_id:str}/restore",
        status_code=200,
        summary="Restore a task",
        description="Puts the task back among the user's tasks, as it was when deleted, with a new `revision`, and "
        "the subtasks deleted with it. Its list if the user still has it, else the inbox; under its parent if that "
        "is live there, else at the top; at its old position if free, else last.",
        responses={
            **AUTH_PROBLEMS,
            404: NOT_IN_TRASH,
            409: problem_response("The user already has MAX_TASKS_PER_USER tasks; nothing was restored."),
        },
        response_headers=[ETAG],
    )
    async def restore_task(
        self, db: InjectedDatabase, user_id: UserId, task_id: TaskId, state: State
    ) -> Response[Task]:
        quota: int = state.max_tasks_per_user
        task = await placing.placing(
            db, user_id, lambda on: queries.restore_task(on, user_id=user_id, task_id=task_id, quota=quota)
        )
        if task is not None:
            return etags.with_etag(task, task.updated_at)
        if await queries.in_trash(db, user_id=user_id, task_id=task_id):
            raise problem(409, f"you have {quota:,} tasks, the most one user may have: delete some to restore this one")
        raise not_in_trash()

    @delete(
        "/{task_id:str}",
        summary="Delete a trashed task for good",
        description="Purges the task now rather than after TRASH_RETENTION_DAYS; it cannot be restored.",
        responses={**AUTH_PROBLEMS, 404: NOT_IN_TRASH},
    )
    async def purge_task(self, db: InjectedDatabase, user_id: UserId, task_id: TaskId) -> None:
        if not await queries.purge_trashed_task(db, user_id=user_id, task_id=task_id):
            raise not_in_trash()

    @delete(
        "/",
        status_code=200,
        summary="Empty the trash",
        description="Purges every task in the user's trash and says how many went.",
        responses=AUTH_PROBLEMS,
    )
    async def empty_trash(self, db: InjectedDatabase, user_id: UserId) -> Deleted:
        return Deleted(deleted=await queries.empty_trash(db, user_id=user_id))
