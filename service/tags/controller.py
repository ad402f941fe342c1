"""The user's tags."""

from __future__ import annotations

from litestar import Controller, get

from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId
from service.tags import queries
from service.tags.schemas import TagCount


class TagController(Controller):
    path = "/api/{user_id:str}/tags"
    tags = ("tasks",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List tags",
        description="The user's tags with how many tasks carry each, most used first.",
        responses=AUTH_PROBLEMS,
    )
    async def list_tags(self, db: InjectedDatabase, user_id: UserId) -> list[TagCount]:
        return await queries.list_tags(db, user_id=user_id)
