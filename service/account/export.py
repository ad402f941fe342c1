"""The export document, written as it is read: never whole in memory.

The lists, then the tasks and the trash through a server-side cursor, ``CHUNK`` rows at a time,
each piece encoded and sent before the next is read, all in one read-only snapshot. A worker's
memory for an export is then a chunk's, whatever the user has (docs/benchmarks.md measures it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from service.account.schemas import FORMAT, VERSION
from service.db.pool import Database
from service.db.statements import Many
from service.lists.schemas import TaskList
from service.tasks.schemas import Task
from service.trash.schemas import TrashedTask

EXPORT_LISTS = Many.bind("export_lists")
EXPORT_TASKS = Many.bind("export_tasks")
EXPORT_TRASH = Many.bind("export_trash")

CHUNK = 500  # rows per cursor fetch and per piece of the body

_encoder = msgspec.json.Encoder()


async def chunks(db: Database, *, user_id: str) -> AsyncIterator[bytes]:
    """The user's export document in pieces; the first opens the snapshot and holds the lists."""
    async with db.snapshot() as connection:
        lists = [TaskList(*row) for row in await connection.fetch(EXPORT_LISTS.sql, user_id)]
        head = {"format": FORMAT, "version": VERSION, "exported_at": datetime.now(UTC), "lists": lists}
        yield _encoder.encode(head)[:-1] + b',"tasks":['
        async for piece in _items(connection, EXPORT_TASKS.sql, user_id, Task):
            yield piece
        yield b'],"trash":['
        async for piece in _items(connection, EXPORT_TRASH.sql, user_id, TrashedTask):
            yield piece
        yield b"]}"


async def _items(
    connection: asyncpg.Connection, sql: str, user_id: str, shape: Callable[..., Any]
) -> AsyncIterator[bytes]:
    """The rows of ``sql`` as JSON array items, comma-separated, ``CHUNK`` at a time."""
    batch: list[bytes] = []
    first = True
    async for row in connection.cursor(sql, user_id, prefetch=CHUNK):
        batch.append(_encoder.encode(shape(*row)))
        if len(batch) == CHUNK:
            yield (b"" if first else b",") + b",".join(batch)
            batch.clear()
            first = False
    if batch:
        yield (b"" if first else b",") + b",".join(batch)


async def after(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``first``, then the rest: a piece already read, put back in front."""
    yield first
    async for piece in rest:
        yield piece
