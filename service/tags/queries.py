"""One typed function per named statement of sql/tags.sql."""

from __future__ import annotations

from service.db.statements import Executor, Many
from service.tags.schemas import TagCount

LIST_TAGS = Many.bind("list_tags")


async def list_tags(db: Executor, *, user_id: str) -> list[TagCount]:
    return [TagCount(*row) for row in await db.fetch(LIST_TAGS.sql, user_id)]
