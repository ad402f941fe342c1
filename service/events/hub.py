"""This process's open event streams, by user, and what each has yet to send.

A stream keeps no queue of changes: only the latest revision announced that it has not sent (a
client answers ``changed`` by reading /changes from its own revision, so one event for several
changes loses nothing) and the reminders fired for its user, which it sends in order. So a burst
of writes costs a stream one event, and an idle stream holds a few small objects.
"""

from __future__ import annotations

import asyncio


class TooManyStreams(Exception):
    """The user already holds EVENTS_MAX_STREAMS_PER_USER streams on this process."""


class Closing(Exception):
    """The process is shutting down: a stream opened now would be ended at once."""


class Stream:
    """One open stream: what it has sent, and what it has yet to send."""

    __slots__ = ("ended", "pending", "reminders", "sent", "user_id", "wake")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.sent = 0  # the latest revision this stream announced
        self.pending: int | None = None  # a revision to announce, newer than ``sent``
        self.reminders: list[bytes] = []  # fired reminders to send, each as /reminders lists it
        self.ended = False  # the process is shutting down: end the stream
        self.wake = asyncio.Event()

    def start(self, revision: int) -> None:
        """The stream announced ``revision`` on connect: what was announced up to it is not news."""
        self.sent = revision
        if self.pending is not None and self.pending <= revision:
            self.pending = None

    def changed(self, revision: int, *, always: bool = False) -> None:
        """Announce ``revision``, unless this stream announced it or a later one (``always``: even then)."""
        if revision > max(self.sent, self.pending or 0) or (always and self.pending is None):
            self.pending = revision
            self.wake.set()

    def reminder(self, data: bytes) -> None:
        self.reminders.append(data)
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()

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


class Hub:
    """The open streams of this process, by user; at most ``max_per_user`` each."""

    __slots__ = ("_streams", "closing", "max_per_user")

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        self._streams: dict[str, set[Stream]] = {}
        self.closing = False

    def open(self, user_id: str) -> Stream:
        if self.closing:
            raise Closing
        streams = self._streams.setdefault(user_id, set())
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

    def end_all(self) -> None:
        """Shutting down: end every stream, so its client reconnects to another instance, and open no more."""
        self.closing = True
        for streams in self._streams.values():
            for stream in streams:
                stream.end()
