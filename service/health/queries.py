"""One typed function per named statement of sql/health.sql."""

from __future__ import annotations

from service.db.statements import Executor, Many

APPLIED_MIGRATIONS = Many.bind("applied_migrations")


async def applied_migrations(db: Executor, *, migration_ids: list[str]) -> set[str]:
    rows = await db.fetch(APPLIED_MIGRATIONS.sql, migration_ids)
    return {row["migration_id"] for row in rows}
