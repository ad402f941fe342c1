"""This process's open event streams, by user, and what each has yet to send.

A stream keeps no queue of changes: only the latest revision announced that it has not sent (a
client answers ``changed`` by reading /changes from its own revision, so one event for several
changes loses nothing) and the reminders fired for its user, which it sends in order. So a burst
of writes costs a stream one event, and an idle stream holds a few small objects.
"""

from __future__ import annotations

import asyncio
import math
import weakref


class TooManyStreams(Exception):
    """The user already holds EVENTS_MAX_STREAMS_PER_USER streams on this process."""


class Closing(Exception):
    """The process is shutting down: a stream opened now would be ended at once."""


class Stream:
    """One open stream: what it has sent, and what it has yet to send.

    It waits on a future of its own, made only while it waits, rather than on an asyncio.Event
    (whose queue of waiters is half a kilobyte), and keeps no timer: the Hub's ``tick`` marks
    its keep-alives and ends it when its token expires.
    """

    __slots__ = (
        "__weakref__",
        "_waiter",
        "ended",
        "keepalive",
        "pending",
        "reminders",
        "sent",
        "user_id",
        "valid_until",
    )

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.sent = 0  # the latest revision this stream announced
        self.pending: int | None = None  # a revision to announce, newer than ``sent``
        self.reminders: list[bytes] = []  # fired reminders to send, each as /reminders lists it
        self.keepalive = False  # a keep-alive comment is due
        self.ended = False  # the stream must end: its token expired, or the process is shutting down
        self.valid_until = math.inf  # when its token expires, in seconds since the epoch
        self._waiter: asyncio.Future[None] | None = None

    def start(self, revision: int, *, valid_until: float) -> None:
        """The stream announced ``revision`` on connect: what was announced up to it is not news."""
        self.sent = revision
        self.valid_until = valid_until
        if self.pending is not None and self.pending <= revision:
            self.pending = None

    async def wait(self) -> None:
        """Until there is something to send, or the stream must end."""
        if self.ended or self.keepalive or self.pending is not None or self.reminders:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def changed(self, revision: int, *, always: bool = False) -> None:
        """Announce ``revision``, unless this stream announced it or a later one (``always``: even then)."""
        if revision > max(self.sent, self.pending or 0) or (always and self.pending is None):
            self.pending = revision
            self._wake()

    def reminder(self, data: bytes) -> None:
        self.reminders.append(data)
        self._wake()

    def tick(self, now: float) -> None:
        """A keep-alive is due; or, past the token's expiry, the end."""
        if now >= self.valid_until:
            self.end()
        else:
            self.keepalive = True
            self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def take_revision(self) -> int | None:
        """The revision to announce now, if any, as announced."""
        revision, self.pending = self.pending, None
        if revision is not None:
            self.sent = max(self.sent, revision)
        return revision

    def take_reminders(self) -> list[bytes]:
        """The reminders to send now, in the order they fired."""
        reminders, self.reminders = self.reminders, []
        return reminders

    def take_keepalive(self) -> bool:
        """Whether a keep-alive is due, and nothing else to send would do as one."""
        due, self.keepalive = self.keepalive, False
        return due and self.pending is None and not self.reminders


class Hub:
    """The open streams of this process, by user; at most ``max_per_user`` each."""

    __slots__ = ("_streams", "closing", "max_per_user")

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        # Held weakly: a stream whose response never started (its client left at once) goes with it.
        self._streams: dict[str, weakref.WeakSet[Stream]] = {}
        self.closing = False

    def open(self, user_id: str) -> Stream:
        if self.closing:
            raise Closing
        streams = self._streams.setdefault(user_id, weakref.WeakSet())
        if len(streams) >= self.max_per_user:
            raise TooManyStreams
        stream = Stream(user_id)
        streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        streams = self._streams.get(stream.user_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.user_id]

    def changed(self, user_id: str, revision: int, *, always: bool = False) -> None:
        """Tell the user's streams here of ``revision`` (see Stream.changed)."""
        for stream in self._streams.get(user_id, ()):
            stream.changed(revision, always=always)

    def reminder(self, user_id: str, data: bytes) -> None:
        for stream in self._streams.get(user_id, ()):
            stream.reminder(data)

    def users(self) -> list[str]:
        """The users with a stream open here."""
        return list(self._streams)

    def count(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def tick(self, now: float) -> None:
        """Every stream: a keep-alive is due, or its end if its token has expired (see Stream.tick)."""
        for user_id, streams in list(self._streams.items()):
            if not streams:  # each went without a word (see __init__)
                del self._streams[user_id]
            for stream in list(streams):
                stream.tick(now)

    def end_all(self) -> None:
        """Shutting down: end every stream, so its client reconnects to another instance, and open no more."""
        self.closing = True
        for streams in self._streams.values():
            for stream in streams:
                stream.end()
