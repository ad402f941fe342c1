"""One typed function per named statement of sql/tags.sql."""

from __future__ import annotations

from service.db.pool import DB
from service.db.sql import SQL
from service.tags.schemas import TagCount


async def list_tags(db: DB, *, user_id: str) -> list[TagCount]:
    return [TagCount(*row) for row in await db.fetch(SQL["list_tags"], user_id)]
