"""This process's one LISTEN connection: it hands each notification to the Hub and the scheduler.

The connection is asyncpg's own, outside the pool, to EVENTS_DATABASE_URL: LISTEN needs a
session of its own, which a transaction pooler (PgBouncer, Neon's -pooler host) does not give.
When it drops (a restart, a failover, pg_terminate_backend, a network cut its pings notice), it
is opened again with backoff, and then every open stream is sent a ``changed`` with its user's
current revision: a notification sent while no one listened is lost, so every client catches up
with /changes, which loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from service.db.pool import DATABASE_UNAVAILABLE
from service.db.urls import asyncpg_dsn, redacted
from service.events.hub import Hub
from service.events.schemas import FiredRaw

log = logging.getLogger(__name__)

CHANGES = "task_api_changes"  # "revision:user_id", sent by the counter's trigger (migration 0008)
REMINDERS = "task_api_reminders"  # a fired reminder (service.events.scheduler)
REMINDERS_SET = "task_api_reminders_set"  # the moment of a reminder set, seconds since the epoch (0008)

PING_SECONDS = 10.0  # how often an idle connection is proved alive
PING_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
BACKOFF_FIRST, BACKOFF_MOST = 0.1, 5.0


class Listener:
    """Holds the LISTEN connection while ``run`` runs: connected, or reconnecting with backoff."""

    def __init__(
        self,
        url: str,
        hub: Hub,
        *,
        application_name: str,
        reminder_set: Callable[[float], None],
        resync: Callable[[], Awaitable[None]],
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._where = redacted(url)
        self._hub = hub
        self._application_name = application_name
        self._reminder_set = reminder_set
        self._resync = resync
        self._decode_fired = msgspec.json.Decoder(FiredRaw).decode
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it connected: 1 at start, then one more per recovery

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        delay = BACKOFF_FIRST
        while True:
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot listen for events at %s (%r); retrying in %.1fs", self._where, exc, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (timing, not secrecy)
                delay = min(delay * 2, BACKOFF_MOST)
                continue
            delay = BACKOFF_FIRST
            try:
                await self._hold(connection)
            finally:
                self.connected.clear()
                connection.terminate()
            log.warning("lost the events connection to %s; reconnecting", self._where)

    async def _connect(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": self._application_name},
        )
        try:
            await connection.add_listener(CHANGES, self._on_change)
            await connection.add_listener(REMINDERS, self._on_reminder)
            await connection.add_listener(REMINDERS_SET, self._on_reminder_set)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def _hold(self, connection: asyncpg.Connection) -> None:
        """Keep the connection until it is lost; after a loss, have every stream catch up."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        self.connections += 1
        self.connected.set()
        if self.connections > 1:
            log.info("listening for events again at %s", self._where)
            await self._catch_up(lost)
        while not lost.is_set():
            try:
                async with asyncio.timeout(PING_SECONDS):
                    await lost.wait()
            except TimeoutError:
                try:
                    async with asyncio.timeout(PING_TIMEOUT):
                        await connection.execute("SELECT 1")
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    return

    async def _catch_up(self, lost: asyncio.Event) -> None:
        """Have every open stream catch up, retrying while the database (through the pool) is away."""
        delay = BACKOFF_FIRST
        while not lost.is_set():
            try:
                await self._resync()
                return
            except DATABASE_UNAVAILABLE as exc:
                log.warning("cannot tell the open streams to catch up yet (%r); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MOST)

    def _on_change(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        revision, _, user_id = payload.partition(":")
        try:
            self._hub.changed(user_id, int(revision))
        except ValueError:
            log.warning("ignored a malformed change notification: %r", payload[:100])

    def _on_reminder(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            fired = self._decode_fired(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignored a malformed reminder notification: %r", payload[:100])
            return
        self._hub.reminder(fired.user_id, bytes(fired.reminder))

    def _on_reminder_set(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._reminder_set(float(payload))
        except ValueError:
            log.warning("ignored a malformed reminder notification: %r", payload[:100])
