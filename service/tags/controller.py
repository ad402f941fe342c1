"""The user's tags."""

from __future__ import annotations

from litestar import Controller, get

from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId
from service.tags import queries
from service.tags.schemas import TagCount
from service.tasks.controller import ListFilter, check_filters, id_or_null


class TagController(Controller):
    path = "/api/{user_id:str}/tags"
    tags = ("tasks",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List tags",
        description="The user's tags with how many tasks carry each, most used first; with `list_id`, counted on "
        "that list's tasks only.",
        responses=AUTH_PROBLEMS,
    )
    async def list_tags(self, db: InjectedDatabase, user_id: UserId, list_id: ListFilter = None) -> list[TagCount]:
        in_list = id_or_null(list_id, "list_id")
        await check_filters(db, user_id, in_list)
        return await queries.list_tags(db, user_id=user_id, list_id=in_list)
