"""The asyncpg pool: its settings, a bounded start-up retry, and ``Database``, which runs statements on it."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar.di import NamedDependency

from service.config import Settings
from service.db.statements import Executor
from service.db.urls import asyncpg_dsn, redacted

log = logging.getLogger(__name__)


# Errors that mean "the database is not there right now", not "this request is wrong":
# the server went away or is restarting, a statement hit statement_timeout, or no pooled
# connection was free in time. A request gets a 503 (service.http.problems); a background job
# logs a warning and tries again.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    ConnectionError,
    FileNotFoundError,  # over a Unix socket: a stopped server has removed its socket file
    socket.gaierror,
    asyncio.TimeoutError,
)


class Database:
    """The pool, with a bound on how long a statement waits for a free connection.

    asyncpg's ``Pool.fetch`` and friends wait for a connection forever; under overload we
    would rather answer 503 (``asyncio.TimeoutError`` maps to it) than hang. Each statement
    runs on a pooled connection of its own; ``transaction()`` holds one for several.
    """

    __slots__ = ("acquire_timeout", "pool", "waiting")

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float):
        self.pool = pool
        self.acquire_timeout = acquire_timeout
        self.waiting = 0  # requests waiting for a connection now (a metrics gauge)

    async def _acquire(self) -> asyncpg.Connection:
        self.waiting += 1
        try:
            # asyncio.timeout, not acquire(timeout=...): asyncpg implements that with wait_for,
            # which on Python 3.11 makes a task per acquisition (~10 µs a request, measured).
            async with asyncio.timeout(self.acquire_timeout):
                return await self.pool.acquire()
        finally:
            self.waiting -= 1

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args)

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._run("execute", query, args)
        return status

    async def _run(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        """``connection.<method>(query, *args)`` on a pooled connection, released afterwards."""
        connection = await self._acquire()
        try:
            return await getattr(connection, method)(query, *args)
        except asyncpg.InternalClientError as exc:
            raise _unusable(connection) from exc
        finally:
            await self.pool.release(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        """One pooled connection whose statements commit together, or roll back together on an error.

        Waiting for the connection, and a connection the server ended or asyncpg can no longer
        use, end as they do for a single statement (503). asyncpg's ``async with transaction()``
        would instead raise "the underlying connection is closed" on the way out, hiding why.
        """
        connection = await self._acquire()
        try:
            transaction = connection.transaction()
            await transaction.start()
            try:
                yield connection
            except BaseException:
                if not _lost(connection):  # a lost connection took its transaction with it
                    await transaction.rollback()
                raise
            await transaction.commit()
        except asyncpg.InternalClientError as exc:
            raise _unusable(connection) from exc
        except asyncpg.InterfaceError as exc:
            if _lost(connection):
                raise _ended() from exc
            raise
        finally:
            await self.pool.release(connection)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        """One pooled connection in a read-only REPEATABLE READ transaction: every statement on it
        reads the same consistent snapshot, and it may hold a server-side cursor (a long read
        streamed in pieces, service.account.export). Ended, and the cursor with it, on the way out."""
        connection = await self._acquire()
        try:
            transaction = connection.transaction(isolation="repeatable_read", readonly=True)
            await transaction.start()
            try:
                yield connection
            finally:
                if not _lost(connection):
                    await transaction.rollback()  # it wrote nothing: nothing to commit
        except asyncpg.InternalClientError as exc:
            raise _unusable(connection) from exc
        except asyncpg.InterfaceError as exc:
            if _lost(connection):
                raise _ended() from exc
            raise
        finally:
            await self.pool.release(connection)


class PinnedDatabase(Database):
    """A Database whose statements all run on one connection, in a transaction its caller opened and ends.

    A layer that must commit a handler's writes with its own (service.idempotency) binds the
    request's ``db`` to one (``BOUND_DATABASE``). ``transaction()`` is then a savepoint: the
    handler's transaction still rolls back alone on an error, and commits with the caller's.
    """

    __slots__ = ("connection",)

    def __init__(self, database: Database, connection: asyncpg.Connection):
        super().__init__(database.pool, acquire_timeout=database.acquire_timeout)
        self.connection = connection

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.connection.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.connection.fetchrow(query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self.connection.execute(query, *args)
        return status

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self.connection.transaction():  # nested in the caller's: a savepoint
            yield self.connection

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection.transaction():  # the caller's transaction is the snapshot
            yield self.connection


# The key of a request's scope["state"] holding the PinnedDatabase its ``db`` is bound to, if any.
BOUND_DATABASE = "service.db.bound"

# A handler's ``db`` parameter, injected by name: the app's Database, or the one its request is bound to.
InjectedDatabase = NamedDependency[Database]


def _unusable(connection: asyncpg.Connection) -> asyncpg.ConnectionDoesNotExistError:
    """asyncpg failed a statement because the connection's protocol is in a state it cannot leave.

    Seen when the server ends a pooled connection between two requests (a restart, a fast
    shutdown): asyncpg has read the "terminating connection" message but not yet the end of the
    stream, and refuses the next statement, before sending it, with "cannot switch to state ...;
    another operation is in progress" (MagicStack/asyncpg#1069). Drop the connection so the pool
    opens a new one, and answer as for a lost connection (503).
    """
    connection.terminate()
    return _ended()


def _lost(connection: asyncpg.Connection) -> bool:
    """The server ended the connection while we held it.

    The pool takes a closed connection back at once and detaches the proxy it lent us: every
    call on it then raises ``InterfaceError`` ("released back to the pool"), which, for a proxy
    not yet released, means exactly that.
    """
    try:
        closed: bool = connection.is_closed()
    except asyncpg.InterfaceError:
        return True
    return closed


def _ended() -> asyncpg.ConnectionDoesNotExistError:
    return asyncpg.ConnectionDoesNotExistError("the connection was ended by the server")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool ``reset`` hook: nothing to undo.

    asyncpg's default runs ``RESET ALL; UNLISTEN *; CLOSE ALL; ...`` on every release, a
    round trip per request. We never change session state (no SET, LISTEN, advisory locks or
    cursors), and asyncpg still rolls back a transaction left open before calling this.
    """


def pool_options(settings: Settings) -> dict[str, Any]:
    server_settings = {"application_name": settings.db_application_name}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return {
        "dsn": asyncpg_dsn(settings.database_url),
        "min_size": min(settings.db_pool_min_size, settings.db_pool_max_size),
        "max_size": settings.db_pool_max_size,
        "command_timeout": settings.db_command_timeout,
        "max_inactive_connection_lifetime": settings.db_max_inactive_connection_lifetime,
        "statement_cache_size": settings.db_statement_cache_size,
        "server_settings": server_settings,
        "reset": _keep_session,
    }


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """Open the pool and prove it works, retrying with backoff for ``DB_CONNECT_RETRY_SECONDS``."""
    deadline = time.monotonic() + settings.db_connect_retry_seconds
    delay = 0.25
    while True:
        try:
            return await _open_checked_pool(settings)
        except asyncpg.ProtocolViolationError as exc:
            if "statement_timeout" not in str(exc) or not settings.db_statement_timeout_ms:
                raise RuntimeError(f"PostgreSQL at {redacted(settings.database_url)} refused us: {exc}") from exc
            # PgBouncer (so Neon's pooled endpoint) refuses run-time settings at connect time.
            log.warning(
                "the server refuses statement_timeout as a connection setting (a pooler such as PgBouncer); "
                "connecting without it. Set it on the role instead: ALTER ROLE <user> SET statement_timeout = "
                "'%dms', and DB_STATEMENT_TIMEOUT_MS=0",
                settings.db_statement_timeout_ms,
            )
            settings = msgspec.structs.replace(settings, db_statement_timeout_ms=0)
        except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
            # Waiting will not fix a wrong password or a missing database.
            raise RuntimeError(
                f"PostgreSQL at {redacted(settings.database_url)} refused us: {exc}. "
                "Check the user, password and database name in DATABASE_URL."
            ) from exc
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"cannot connect to PostgreSQL at {redacted(settings.database_url)} "
                    f"after {settings.db_connect_retry_seconds:g}s: {exc!r}. Check that DATABASE_URL "
                    "names the right host, port, database and credentials, that the server is running "
                    "and reachable from here, and its sslmode."
                ) from exc
            log.warning("database not reachable yet (%r); retrying in %.2fs", exc, delay)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 5.0)


async def _open_checked_pool(settings: Settings) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(**pool_options(settings))
    try:
        # With DB_POOL_MIN_SIZE=0 the pool connects lazily; one round trip proves the settings.
        await pool.execute("SELECT 1")
    except BaseException:
        pool.terminate()
        raise
    return pool
