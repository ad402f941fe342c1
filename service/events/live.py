"""The live-events feature of one process: its Hub, LISTEN connection and reminder scheduler,
started and stopped by the app's lifespan, and the streams ended when a stop signal comes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.config import Settings
from service.db.pool import Database
from service.events import queries
from service.events.hub import Hub
from service.events.listener import Listener
from service.events.scheduler import Scheduler
from service.http.auth import TokenVerifier
from service.observability.metrics import PREFIX

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class EventsCollector(Collector):
    """The live events of this process as metrics, read at scrape time."""

    def __init__(self, live: LiveEvents) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        listener = self.live.listener
        yield GaugeMetricFamily(f"{PREFIX}_event_streams", "Event streams open on this process", self.live.hub.count())
        yield GaugeMetricFamily(
            f"{PREFIX}_events_listening",
            "1 while this process's LISTEN connection is up, 0 while it reconnects",
            int(listener is not None and listener.connected.is_set()),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_events_listen_connections",
            "Times this process opened its LISTEN connection: 1, plus one per recovery",
            listener.connections if listener is not None else 0,
        )


class LiveEvents:
    """What GET /events needs (``hub``, ``verifier``, ``keepalive_seconds``), and the tasks behind it."""

    def __init__(self, settings: Settings, verifier: TokenVerifier) -> None:
        self.hub = Hub(settings.events_max_streams_per_user)
        self.verifier = verifier
        self.keepalive_seconds = settings.events_keepalive_seconds
        self._settings = settings
        self._db: Database | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._signals: dict[int, Any] = {}
        self.listener: Listener | None = None

    async def start(self, db: Database) -> None:
        """Listen, schedule, and end the streams on SIGTERM and SIGINT (before the server waits for them)."""
        self._db = db
        url = self._settings.events_url
        if not self._settings.events_database_url and "-pooler." in (urlsplit(url).hostname or ""):
            log.warning(
                "DATABASE_URL is a pooled endpoint, which does not pass notifications on: set "
                "EVENTS_DATABASE_URL to the direct one, or live events will not arrive"
            )
        scheduler = Scheduler(db, listening=lambda: listener.connected.is_set())
        listener = Listener(
            url,
            self.hub,
            application_name=f"{self._settings.db_application_name}-events",
            reminder_set=scheduler.reminder_set,
            resync=self.resync,
        )
        self.listener = listener
        self._tasks = [
            asyncio.create_task(listener.run(), name="events-listener"),
            asyncio.create_task(scheduler.run(), name="reminder-scheduler"),
            asyncio.create_task(self._tick(), name="events-keepalive"),
        ]
        self._end_streams_on_stop_signals()

    async def stop(self) -> None:
        self.hub.end_all()
        self._restore_signal_handlers()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _tick(self) -> None:
        """Every EVENTS_KEEPALIVE_SECONDS, a keep-alive for every stream, or its end if its token expired:
        one timer for the process rather than one per stream."""
        while True:
            await asyncio.sleep(self.keepalive_seconds)
            self.hub.tick(time.time())

    async def resync(self) -> None:
        """Send every open stream a ``changed`` with its user's revision (after notifications were missed)."""
        assert self._db is not None
        for user_id in self.hub.users():
            self.hub.changed(user_id, await queries.current_revision(self._db, user_id=user_id), always=True)

    def _end_streams_on_stop_signals(self) -> None:
        """uvicorn waits for open responses to finish before it stops, and a stream never finishes by
        itself: on a stop signal, end every stream at once (its client reconnects to another instance),
        then let uvicorn's own handler shut down as it would."""
        if threading.current_thread() is not threading.main_thread():
            return  # an app served in a thread (a test client): no signals reach it
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            previous = signal.getsignal(stop_signal)
            self._signals[stop_signal] = previous

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.hub.end_all)
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:  # no server's handler: stop as without ours
                    signal.signal(signum, previous)
                    signal.raise_signal(signum)

            signal.signal(stop_signal, handler)

    def _restore_signal_handlers(self) -> None:
        for stop_signal, previous in self._signals.items():
            signal.signal(stop_signal, previous)
        self._signals.clear()
