"""One typed function per named statement of sql/health.sql."""

from __future__ import annotations

from service.db.pool import DB
from service.db.sql import SQL


async def applied_migrations(db: DB, *, migration_ids: list[str]) -> set[str]:
    rows = await db.fetch(SQL["applied_migrations"], migration_ids)
    return {row["migration_id"] for row in rows}
