"""TCP proxies a test can break: one in front of the test PostgreSQL that it can cut off and
restore, one in front of the service that loses the service's answers.

Stopping a proxy closes the listening socket and every open connection, which is what clients
see when a server goes away. Each runs its own event loop in a thread, so it keeps relaying
while the test's loop is blocked (the test client starts apps synchronously).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

T = TypeVar("T")


class TcpProxy:
    """Relays each connection to the upstream ``_open_upstream`` opens, both ways, until either side ends."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(self).__name__, daemon=True)
        self._thread.start()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def start(self) -> None:
        """Listen (again, on the same port after the first start)."""
        self._call(self._start())

    def stop(self) -> None:
        """Stop listening and cut every open connection."""
        self._call(self._stop())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotImplementedError

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await self._open_upstream()
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update({client_writer, upstream_writer})
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._answer(upstream_reader, client_writer))

    async def _answer(self, upstream: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        """Relay the upstream's bytes to the client."""
        await self._pipe(upstream, client)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


class PostgresProxy(TcpProxy):
    def __init__(self, database_url: str):
        self._parts = urlsplit(database_url)
        super().__init__()

    @property
    def url(self) -> str:
        """``database_url`` pointed at the proxy, over TCP on 127.0.0.1."""
        user = self._parts.username or "postgres"
        password = f":{self._parts.password}" if self._parts.password else ""
        return urlunsplit(("postgresql", f"{user}{password}@127.0.0.1:{self.port}", self._parts.path, "", ""))

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        socket_dir = parse_qs(self._parts.query).get("host", [None])[0] or (
            self._parts.hostname if (self._parts.hostname or "").startswith("/") else None
        )
        port = self._parts.port or 5432
        if socket_dir:
            return await asyncio.open_unix_connection(os.path.join(socket_dir, f".s.PGSQL.{port}"))
        return await asyncio.open_connection(self._parts.hostname or "localhost", port)


class AnswerLosingProxy(TcpProxy):
    """In front of a server at ``base`` (``http://127.0.0.1:<port>``): each request reaches it whole,
    and the client's connection is cut the moment the server starts to answer, as a network that
    fails at the worst time would. ``losing = False`` relays answers again."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.losing = True
        self.lost = 0  # answers the server sent that the client never got
        super().__init__()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(*self._upstream)

    async def _answer(self, upstream: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if not self.losing:
            await self._pipe(upstream, client)
            return
        with contextlib.suppress(OSError):
            if await upstream.read(1):  # the server has answered: it is done with the request
                self.lost += 1
        client.transport.abort()
        self._writers.discard(client)
