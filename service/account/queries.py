"""One typed function per named statement of sql/account.sql."""

from __future__ import annotations

from service.db.statements import Exec, Executor, Val

LOCK_COUNTER = Val.bind("lock_counter_revision")
ERASE_USER_DATA = Exec.bind("erase_user_data")
CLOSE_ERASE = Val.bind("close_erase")


async def lock_counter(db: Executor, *, user_id: str) -> int:
    """Lock the user's counter (made if need be) until the transaction ends; their revision."""
    revision: int = await db.fetchval(LOCK_COUNTER.sql, user_id)
    return revision


async def erase(db: Executor, *, user_id: str) -> int:
    """Every row of the user gone but the counter, which advances past them; the new revision.

    ``db`` must be a transaction: the three statements commit together or not at all."""
    await lock_counter(db, user_id=user_id)
    await db.execute(ERASE_USER_DATA.sql, user_id)
    revision: int = await db.fetchval(CLOSE_ERASE.sql, user_id)
    return revision
