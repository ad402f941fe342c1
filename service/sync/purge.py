"""The purge job: trash past TRASH_RETENTION_DAYS, tombstones (of tasks and of lists) past
SYNC_RETENTION_DAYS, and idempotency keys past their 24 hours.

Every process runs one (``run_every`` in the app's lifespan). Each step deletes a batch of rows
it locks with ``FOR UPDATE SKIP LOCKED`` (sql/purge.sql), so any number of instances can purge
at once: they share the rows, none is purged twice, and none waits on a row another holds. A
step repeats while it fills its batch, each batch its own short transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec

from service.db.pool import DATABASE_UNAVAILABLE
from service.db.statements import Executor, Val
from service.idempotency import queries as idempotency
from service.idempotency.keys import LIFETIME

log = logging.getLogger(__name__)

PURGE_EXPIRED_TRASH = Val.bind("purge_expired_trash")
PURGE_EXPIRED_TOMBSTONES = Val.bind("purge_expired_tombstones")
PURGE_EXPIRED_LIST_TOMBSTONES = Val.bind("purge_expired_list_tombstones")
BATCH = 500


class Retention(msgspec.Struct, frozen=True):
    trash: timedelta
    tombstones: timedelta


class Purged(msgspec.Struct, frozen=True):
    trashed_tasks: int
    tombstones: int
    idempotency_keys: int = 0
    list_tombstones: int = 0


async def _drain(step: Callable[[int], Awaitable[int]], batch: int) -> int:
    """Run ``step`` on batches of ``batch`` rows until one is not full; how many rows went."""
    total = 0
    while True:
        purged = await step(batch)
        total += purged
        if purged < batch:
            return total


def _expired(db: Executor, statement: Val, before: datetime) -> Callable[[int], Awaitable[int]]:
    async def step(batch: int) -> int:
        purged: int = await db.fetchval(statement.sql, before, batch)
        return purged

    return step


async def purge(db: Executor, retention: Retention, *, now: datetime | None = None, batch: int = BATCH) -> Purged:
    """One pass: trash older than its retention becomes tombstones, then old tombstones and keys go."""
    now = now or datetime.now(UTC)
    return Purged(
        trashed_tasks=await _drain(_expired(db, PURGE_EXPIRED_TRASH, now - retention.trash), batch),
        tombstones=await _drain(_expired(db, PURGE_EXPIRED_TOMBSTONES, now - retention.tombstones), batch),
        idempotency_keys=await _drain(_expired_keys(db), batch),
        list_tombstones=await _drain(_expired(db, PURGE_EXPIRED_LIST_TOMBSTONES, now - retention.tombstones), batch),
    )


def _expired_keys(db: Executor) -> Callable[[int], Awaitable[int]]:
    async def step(batch: int) -> int:
        return await idempotency.purge_expired_keys(db, older_than=LIFETIME, batch=batch)

    return step


async def run_every(seconds: float, db: Executor, retention: Retention) -> None:
    """Purge every ``seconds`` (jittered, so instances started together spread out) until cancelled."""
    while True:
        await asyncio.sleep(seconds * random.uniform(0.5, 1.5))  # noqa: S311 (timing, not secrecy)
        try:
            purged = await purge(db, retention)
        except DATABASE_UNAVAILABLE as exc:  # the next pass retries; a request never depends on this one
            log.warning("the purge cannot reach the database (%r); retrying in about %gs", exc, seconds)
            continue
        except Exception:
            log.exception("the purge failed; retrying in about %gs", seconds)
            continue
        if purged.trashed_tasks or purged.tombstones or purged.idempotency_keys or purged.list_tombstones:
            log.info(
                "purged %d trashed tasks, %d tombstones, %d list tombstones and %d idempotency keys",
                purged.trashed_tasks,
                purged.tombstones,
                purged.list_tombstones,
                purged.idempotency_keys,
            )
