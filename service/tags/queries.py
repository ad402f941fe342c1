"""One typed function per named statement of sql/tags.sql."""

from __future__ import annotations

from uuid import UUID

from service.db.statements import Executor, Many
from service.tags.schemas import TagCount

LIST_TAGS = Many.bind("list_tags")


async def list_tags(db: Executor, *, user_id: str, list_id: UUID | None = None) -> list[TagCount]:
    """The user's tags; with ``list_id``, on that list's tasks (the nil uuid: the inbox's)."""
    return [TagCount(*row) for row in await db.fetch(LIST_TAGS.sql, user_id, list_id)]
