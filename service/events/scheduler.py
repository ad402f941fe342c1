"""The reminder scheduler: each process runs one, and each reminder fires once, on time.

A pass claims the reminders that are due with FOR UPDATE SKIP LOCKED, marks them fired and
announces them, in one transaction (sql/scheduler.sql): so however many instances pass at once,
each reminder is claimed by one, and is announced only if its firing commits. A reminder's row
goes with its task's completion, trashing or new due time (migration 0007's triggers), so such a
reminder is never claimed. Between passes the scheduler sleeps until the soonest unfired
reminder is due, or until a notification says a sooner one was set (``reminder_set``), and at
most IDLE_SECONDS: it does not poll users' tasks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec

from service.db.pool import DATABASE_UNAVAILABLE, Database
from service.events import queries

log = logging.getLogger(__name__)

BATCH = 500
# A reminder due more than this long before a pass could fire it was missed while no instance
# ran: it is marked fired, not announced, so a restart after an outage does not ring every
# reminder of the outage at once.
LATE_MOST = timedelta(minutes=10)
IDLE_SECONDS = 60.0  # the longest sleep: a safety net for a lost wake-up notification
UNHEARD_SECONDS = 1.0  # the longest sleep while the listener is down, and wake-ups are not heard
BUSY_SECONDS = 0.2  # the sleep when a due reminder is held by a writer, or a pass failed
FAILED_SECONDS = 2.0


class Scheduler:
    """Fires due reminders until cancelled (``run``); ``reminder_set`` wakes it for a sooner one."""

    def __init__(self, db: Database, *, listening: Callable[[], bool]) -> None:
        self._db = db
        self._listening = listening
        self._wake = asyncio.Event()
        self._until = 0.0  # when the current sleep ends, in seconds since the epoch
        self._heard = math.inf  # the soonest reminder set since the current pass began
        self._encode = msgspec.json.Encoder().encode

    def reminder_set(self, moment: float) -> None:
        """A reminder due at ``moment`` (seconds since the epoch) was set: wake up if it is sooner."""
        self._heard = min(self._heard, moment)
        if moment < self._until:
            self._wake.set()

    async def run(self) -> None:
        while True:
            self._heard = math.inf
            try:
                full = await self.fire_due()
                soonest = None if full else await queries.next_reminder_at(self._db)
            except DATABASE_UNAVAILABLE as exc:  # the next pass retries; no request depends on this one
                log.warning(
                    "the reminder scheduler cannot reach the database (%r); retrying in %gs", exc, FAILED_SECONDS
                )
                await self._sleep(time.time() + FAILED_SECONDS)
                continue
            except Exception:
                log.exception("the reminder scheduler failed; retrying in %gs", FAILED_SECONDS)
                await self._sleep(time.time() + FAILED_SECONDS)
                continue
            now = time.time()
            if full:
                continue  # more are due at once
            if soonest is not None and soonest.timestamp() <= now:
                until = now + BUSY_SECONDS  # a writer holds it: its write decides, then we look again
            else:
                until = now + (IDLE_SECONDS if self._listening() else UNHEARD_SECONDS)
                if soonest is not None:
                    until = min(until, soonest.timestamp())
            await self._sleep(min(until, self._heard))  # one set during the pass was not in its reads

    async def fire_due(self) -> bool:
        """One batch: fire what is due now; whether the batch was full."""
        now = datetime.now(UTC)
        async with self._db.transaction() as transaction:
            claimed, on_time = await queries.fire_due_reminders(
                transaction, now=now, batch=BATCH, late_before=now - LATE_MOST
            )
            if on_time:
                await queries.announce_reminders(
                    transaction, payloads=[self._encode(fired).decode() for fired in on_time]
                )
        if claimed > len(on_time):
            log.info(
                "%d reminders were missed while no instance ran; marked fired, not announced", claimed - len(on_time)
            )
        return claimed == BATCH

    async def _sleep(self, until: float) -> None:
        self._until = until
        self._wake.clear()
        try:
            async with asyncio.timeout(max(0.0, until - time.time())):
                await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self._until = 0.0
