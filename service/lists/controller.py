"""The lists routes: take validated input, call one query function, shape the answer."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import quote
from uuid import UUID

import asyncpg
from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, BODY_PROBLEMS, PRIVATE, UserId, problem_response
from service.http.problems import problem
from service.lists import queries
from service.lists.schemas import ListWrite, TaskList

ListId = FromPath[UUID]  # a malformed id is a 400 naming list_id, not a 404
NAME_INDEX = "lists_user_name_idx"

NOT_FOUND = problem_response("No such list for this user.")
NAME_TAKEN = problem_response("The user has a list of that name already (ignoring case).")
LIST_PROBLEMS = {**AUTH_PROBLEMS, 404: NOT_FOUND}
LOCATION = ResponseHeader(
    name="Location",
    value="/api/{user_id}/lists/{list_id}",
    description="Path of the new list",
    required=True,
    documentation_only=True,
)

Written = TypeVar("Written")


def not_found() -> NotFoundException:
    return NotFoundException(detail="list not found")


def name_taken(name: str) -> HTTPException:
    return problem(409, f"you have a list named {name!r} already (names are unique ignoring case)")


async def _naming(name: str, write: Awaitable[Written]) -> Written:
    try:
        return await write
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == NAME_INDEX:
            raise name_taken(name) from exc
        raise


class ListController(Controller):
    path = "/api/{user_id:str}/lists"
    tags = ("lists",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List lists",
        description="Every list of the user (at most MAX_LISTS_PER_USER, 200 by default, so no pages), oldest "
        "first. Tasks without a list are in the inbox, which is no list: `GET .../tasks?list_id=null`.",
        responses=AUTH_PROBLEMS,
    )
    async def list_lists(self, db: InjectedDatabase, user_id: UserId) -> list[TaskList]:
        return await queries.list_lists(db, user_id=user_id)

    @post(
        "/",
        summary="Create a list",
        responses={
            **BODY_PROBLEMS,
            409: problem_response(
                "The user has a list of that name already (ignoring case), or MAX_LISTS_PER_USER lists "
                "(200 by default)."
            ),
        },
        response_headers=[LOCATION],
    )
    async def create_list(
        self, db: InjectedDatabase, user_id: UserId, data: JSONBody[ListWrite], state: State
    ) -> Response[TaskList]:
        quota: int = state.max_lists_per_user
        made = await _naming(data.name, queries.create_list(db, user_id=user_id, name=data.name, quota=quota))
        if made is None:
            raise problem(409, f"you have {quota:,} lists, the most one user may have: delete one to add another")
        location = f"/api/{quote(user_id, safe='')}/lists/{made.id}"
        return Response(made, status_code=201, headers={"Location": location})

    @get("/{list_id:str}", summary="Get a list", responses=LIST_PROBLEMS)
    async def get_list(self, db: InjectedDatabase, user_id: UserId, list_id: ListId) -> TaskList:
        found = await queries.get_list(db, user_id=user_id, list_id=list_id)
        if found is None:
            raise not_found()
        return found

    @patch(
        "/{list_id:str}",
        summary="Rename a list",
        description="The name is the only writable field; the same name changes nothing (not even `revision`).",
        responses={**BODY_PROBLEMS, 404: NOT_FOUND, 409: NAME_TAKEN},
    )
    async def rename_list(
        self, db: InjectedDatabase, user_id: UserId, list_id: ListId, data: JSONBody[ListWrite]
    ) -> TaskList:
        renamed = await _naming(data.name, queries.rename_list(db, user_id=user_id, list_id=list_id, name=data.name))
        if renamed is None:
            raise not_found()
        return renamed

    @delete(
        "/{list_id:str}",
        summary="Delete a list",
        description="Deletes the list and moves its tasks, subtasks included, to the trash, in one transaction. "
        "A task restored from the trash after its list is gone comes back in the inbox.",
        responses=LIST_PROBLEMS,
    )
    async def delete_list(self, db: InjectedDatabase, user_id: UserId, list_id: ListId) -> None:
        if not await queries.delete_list(db, user_id=user_id, list_id=list_id):
            raise not_found()
