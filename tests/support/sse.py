"""A server-sent events client for the tests: a real HTTP connection to /events, read event by event.

A reader task parses the stream as the HTML standard says (fields up to a blank line make an
event; lines starting with ':' are comments) into a queue, so a test can wait for the next event
with a deadline, or see that none came, without breaking the connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    event: str | None = None  # None: a comment line alone
    id: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)
    at: float = 0.0  # time.time() when it arrived

    def json(self) -> Any:
        assert self.data is not None, self
        return json.loads(self.data)


class EventStream:
    """The events of one open stream, in order; ``ended`` once the server ended it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.ended = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        current = Event()
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if current.event or current.data is not None or current.comments:
                        current.at = time.time()
                        self.events.put_nowait(current)
                    current = Event()
                elif line.startswith(":"):
                    current.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        current.data = value if current.data is None else f"{current.data}\n{value}"
                    elif name in ("event", "id", "retry"):
                        setattr(current, name, value)
        except (httpx.TransportError, httpx.StreamError):
            pass  # the connection went: the stream has ended
        finally:
            self.ended.set()
            self.events.put_nowait(None)

    async def next(self, within: float = 5.0, *, comments: bool = False) -> Event:
        """The next event (with ``comments``, also a comment alone); fails on a timeout or the end."""
        deadline = time.monotonic() + within
        while True:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                event = await self.events.get()
            if event is None:
                self.events.put_nowait(None)
                raise EOFError("the server ended the stream")
            if comments or event.event is not None or event.data is not None:
                return event

    async def next_of(self, kind: str, within: float = 5.0) -> Event:
        """The next event named ``kind``, skipping others."""
        deadline = time.monotonic() + within
        while True:
            event = await self.next(max(0.0, deadline - time.monotonic()))
            if event.event == kind:
                return event

    def received(self) -> list[Event]:
        """The events that arrived and were not read yet, now (the end of the stream left out)."""
        events = []
        while not self.events.empty():
            event = self.events.get_nowait()
            if event is None:
                self.events.put_nowait(None)
                break
            events.append(event)
        return events

    async def close(self) -> None:
        self._reader.cancel()
        await self.response.aclose()


@asynccontextmanager
async def open_events(
    client: httpx.AsyncClient, base: str, user_id: str, headers: dict[str, str]
) -> AsyncIterator[EventStream]:
    """GET /api/{user_id}/events, which must answer 200; its events until the block ends."""
    async with client.stream("GET", f"{base}/api/{user_id}/events", headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            raise AssertionError(f"{response.status_code}: {response.text}")
        stream = EventStream(response)
        try:
            yield stream
        finally:
            await stream.close()
