"""What each layer of the service's request path costs: the app with one layer taken away at a time.

    .venv/bin/python -m bench.layers             # about 5 minutes on 2 cores
    LAYERS_CHUNKS=10 .venv/bin/python -m bench.layers

The app is built by ``create_app`` and called in this process as uvicorn would call it (ASGI,
uvloop), without a network and without waiting on the database: once started (its pool opened on
a real embedded PostgreSQL), its pool is swapped for one that answers every statement with rows
read from the database beforehand. What is left is the request path above the database, and the
CPU time of this process per request is the number. Each variant removes one layer, by a setting
where one exists and otherwise by replacing the name ``create_app`` builds it from, or by
unwrapping the finished app; the difference from the app as shipped is what that layer costs.
The bare handlers of ``bench.reference`` run the same way, for the floor. All variants run
side by side, in a new order for each sample of LAYERS_CHUNK requests; numbers are medians
over LAYERS_CHUNKS samples.

This reaches into the service (the names ``service.app`` composes the stack from), so a
change of layout needs the hooks below to follow it; nothing here changes the service's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import asyncpg
import psycopg
import uvloop
from litestar import Litestar
from litestar.types import ASGIApp, Receive, Scope, Send

import service.app
import service.db.pool
import service.http.body
from bench import reference
from bench import run as bench_run
from bench.wrk import Request
from service.config import load_settings
from service.db import embedded, migrations
from service.observability import logs

CHUNK = int(os.environ.get("LAYERS_CHUNK", "96"))  # requests per sample
CHUNKS = int(os.environ.get("LAYERS_CHUNKS", "40"))  # samples per variant and scenario
IN_FLIGHT = 16
SCENARIOS = ("list 20", "get one", "create", "toggle")


class _SetUser:
    """Stands in for the auth middleware: puts the path's user in the scope, checks nothing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["user"] = scope.get("path_params", {}).get("user_id")
        await self.app(scope, receive, send)


class _NoDecoder:
    def decode(self, body: bytes) -> None:
        return None


def _passthrough(*args: Any, **kwargs: Any) -> Callable[[ASGIApp], ASGIApp]:
    return lambda app: app


class CannedPool:
    """A pool, and its one connection, answering every statement with the same rows."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    async def acquire(self, timeout: float | None = None) -> CannedPool:  # noqa: ASYNC109  # asyncpg's signature
        return self

    async def release(self, connection: Any) -> None:
        return None

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return self.rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return self.rows[0]

    async def fetchval(self, query: str, *args: Any) -> Any:
        return self.rows[0][0]


def _unwrap(app: Litestar, layer: str) -> None:
    """Take the outer wrapper of type ``layer`` out of ``app.asgi_handler``'s chain."""
    parent: Any = app
    attribute = "asgi_handler"
    current = getattr(parent, attribute)
    while type(current).__name__ != layer:
        parent, attribute = current, "app"
        current = current.app
    setattr(parent, attribute, current.app)


def _no_guards(app: Litestar) -> None:
    for route in app.routes:
        for handler, _ in getattr(route, "route_handler_map", {}).values():
            handler._resolved_guards = []


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str]
    patches: tuple[tuple[Any, str, Any], ...] = ()  # (object, attribute, replacement) while create_app runs
    after: tuple[Callable[[Litestar], None], ...] = ()  # applied to the finished app


VARIANTS = (
    Variant("as shipped", {}),
    Variant("no access log", {"ACCESS_LOG": "false"}),
    Variant("no metrics", {"METRICS_ENABLED": "false"}),
    Variant("no rate limiter", {"RATE_LIMIT_PER_MINUTE": "0"}),
    Variant("auth replaced by a user setter", {}, ((service.app, "DefineMiddleware", lambda *a, **k: _SetUser),)),
    Variant("no strict query check", {}, ((service.app, "StrictQueryParameters", _passthrough),)),
    Variant(
        "no strict body decode (guard kept)", {}, ((service.http.body, "_strict_decoder", lambda t: _NoDecoder()),)
    ),
    Variant("no guards (body guard removed)", {}, after=(_no_guards,)),
    Variant("no CORS", {}, ((service.app, "CORSConfig", lambda **k: None),)),
    Variant("no request id", {}, after=(lambda app: _unwrap(app, "RequestIdMiddleware"),)),
    Variant("no body deadline", {}, after=(lambda app: _unwrap(app, "BodyDeadline"),)),
    Variant("no access log and no metrics (wrapper kept)", {"ACCESS_LOG": "false", "METRICS_ENABLED": "false"}),
    Variant("no access log, no metrics wrapper", {}, after=(lambda app: _unwrap(app, "ObserveRequests"),)),
    Variant("default garbage collector", {}, ((service.app, "calm_the_garbage_collector", lambda: None),)),
    Variant(
        "all of the above",
        {"ACCESS_LOG": "false", "METRICS_ENABLED": "false", "RATE_LIMIT_PER_MINUTE": "0"},
        (
            (service.app, "DefineMiddleware", lambda *a, **k: _SetUser),
            (service.app, "StrictQueryParameters", _passthrough),
            (service.app, "CORSConfig", lambda **k: None),
        ),
        (
            _no_guards,
            lambda app: _unwrap(app, "RequestIdMiddleware"),
            lambda app: _unwrap(app, "ObserveRequests"),
            lambda app: _unwrap(app, "BodyDeadline"),
        ),
    ),
)
BARE = "bare handler"


@contextlib.contextmanager
def _patched(variant: Variant) -> Iterator[None]:
    with ExitStack() as stack:
        for target, attribute, replacement in variant.patches:
            stack.enter_context(mock.patch.object(target, attribute, replacement))
        yield


def build(variant: Variant | None, env: dict[str, str]) -> Litestar:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    if variant is None:
        return reference.bare_app()
    settings = load_settings(environ={**env, **variant.env}, env_file=os.devnull)
    with _patched(variant):
        app = service.app.create_app(settings)
    for change in variant.after:
        change(app)
    return app


@contextlib.asynccontextmanager
async def running(app: Litestar, variant: Variant | None, canned: CannedPool) -> AsyncIterator[None]:
    """The app's ASGI lifespan, as a server runs it, with ``canned`` in place of its pool meanwhile."""
    asgi: Any = app  # messages are plain dicts here
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(
        asgi({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    holder = app.state.db if variant is not None else app.state
    real = holder.pool
    holder.pool = canned
    try:
        yield
    finally:
        holder.pool = real
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def scope(request: Request) -> tuple[dict[str, Any], bytes]:
    url = urlsplit(request.path)
    body = (request.body or "").encode()
    headers = [(b"host", b"127.0.0.1:8000")]
    headers += [(name.lower().encode(), value.encode()) for name, value in request.headers.items()]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": request.method,
        "root_path": "",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": headers,
        "state": {},
    }, body


async def call(app: Litestar, template: dict[str, Any], body: bytes) -> int:
    status = 0
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if sent_body:
            return {"type": "http.disconnect"}
        sent_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    asgi: Any = app
    await asgi({**template, "headers": list(template["headers"]), "state": {}}, receive, send)
    return status


async def load(app: Litestar, requests: list[Request], count: int) -> float:
    """CPU seconds of this process per request, over ``count`` requests, IN_FLIGHT at a time."""
    prepared = [scope(r) for r in requests]
    picks = random.Random(count)
    errors: list[int] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            template, body = picks.choice(prepared)
            status = await call(app, template, body)
            if status >= 400:
                errors.append(status)

    started = time.process_time()
    await asyncio.gather(*(worker(count // IN_FLIGHT) for _ in range(IN_FLIGHT)))
    cpu = time.process_time() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[:5]}")
    return cpu / (count // IN_FLIGHT * IN_FLIGHT)


async def canned_rows(database_url: str) -> dict[str, list[Any]]:
    """What each scenario's statement returns, from the seeded database: a page of 20, or one task."""
    connection = await asyncpg.connect(service.db.pool.asyncpg_dsn(database_url))
    try:
        page = await connection.fetch(reference.LIST_SQL, bench_run.LISTED[0], reference.PAGE + 1)
    finally:
        await connection.close()
    return {"list 20": list(page), "get one": page[:1], "create": page[:1], "toggle": page[:1]}


async def measure(
    variants: list[Variant | None], env: dict[str, str], everything: dict[str, list[Request]]
) -> dict[tuple[str, str], list[float]]:
    """Every variant started at once, then chunks of CHUNK requests, variants in a new order each
    time, so a busy neighbour slows them alike; each chunk's CPU per request is one sample."""
    found: dict[tuple[str, str], list[float]] = {}
    rows = await canned_rows(env["DATABASE_URL"])
    canned = CannedPool()
    order = random.Random(CHUNKS)
    async with contextlib.AsyncExitStack() as stack:
        apps: list[tuple[Variant | None, Litestar]] = []
        for variant in variants:
            app = build(variant, env)
            await stack.enter_async_context(running(app, variant, canned))
            apps.append((variant, app))
        gc.collect()
        gc.freeze()  # what the service's start-up does, for every app alike
        for number in range(1, CHUNKS + 1):
            if number % 10 == 1:
                print(f"chunk {number} of {CHUNKS}", flush=True)
            for scenario in SCENARIOS:
                canned.rows = rows[scenario]
                for variant, app in order.sample(apps, len(apps)):
                    name = variant.name if variant else BARE
                    gc.collect()  # no chunk pays for the garbage of the one before
                    with _patched(variant) if variant else contextlib.nullcontext():
                        threshold = gc.get_threshold()
                        if variant is None or variant.name == "default garbage collector":
                            gc.set_threshold(700, 10, 10)
                        if number == 1:
                            await load(app, everything[scenario], CHUNK)  # warm-up
                        seconds = await load(app, everything[scenario], CHUNK)
                        gc.set_threshold(*threshold)
                    found.setdefault((name, scenario), []).append(seconds * 1e6)
    return found


async def acquire_cost(database_url: str) -> dict[str, float]:
    """CPU per acquire and release of a pooled connection, with a timeout (as the service's
    Database does) and without; the canned pool above cannot show it."""
    settings = load_settings(environ={"DATABASE_URL": database_url}, env_file=os.devnull)
    pool = await asyncpg.create_pool(**service.db.pool.pool_options(settings))
    found: dict[str, list[float]] = {}

    async def once(timeout: float | None) -> None:  # noqa: ASYNC109  # what asyncpg's acquire takes
        connection = await (pool.acquire(timeout=timeout) if timeout else pool.acquire())
        await pool.release(connection)

    try:
        for _ in range(CHUNKS):
            for name, timeout in (("with a timeout", 5.0), ("without", None)):
                started = time.process_time()
                for _ in range(CHUNK // IN_FLIGHT):
                    await asyncio.gather(*(once(timeout) for _ in range(IN_FLIGHT)))
                found.setdefault(name, []).append((time.process_time() - started) / CHUNK * 1e6)
    finally:
        await pool.close()
    return {name: statistics.median(values) for name, values in found.items()}


def table(found: dict[tuple[str, str], list[float]], names: list[str]) -> str:
    def us(name: str, scenario: str) -> float:
        return statistics.median(found[(name, scenario)])

    lines = [
        "| variant | " + " | ".join(f"{s}: µs | Δ" for s in SCENARIOS) + " |",
        "|---|" + "---:|" * len(SCENARIOS),
    ]
    for name in names:
        cells = []
        for scenario in SCENARIOS:
            value, shipped = us(name, scenario), us(VARIANTS[0].name, scenario)
            cells.append(f"{value:.0f} | {value - shipped:+.0f}" if name != VARIANTS[0].name else f"{value:.0f} | ")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    handler = logs.handler("json", open(os.devnull, "w"))  # noqa: SIM115  # the access log is written, to nowhere
    logging.root.handlers = [handler]
    logging.root.setLevel(logging.INFO)
    with embedded.temporary() as database_url, psycopg.connect(database_url, autocommit=True) as db:
        migrations.apply(database_url)
        ids, replaced, cursors = bench_run.seed(db)
        secret = secrets.token_urlsafe(48)
        env = {
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": secret,
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "LOG_LEVEL": "INFO",
        }
        os.environ.update(env)  # the bare app reads its settings from the environment
        scenarios = bench_run.scenarios(db, ids, replaced, cursors, secret)
        everything = {name: scenarios[name].requests for name in SCENARIOS}
        variants: list[Variant | None] = [*VARIANTS, None]
        found = uvloop.run(measure(variants, env, everything))
        acquire = uvloop.run(acquire_cost(database_url))
    names = [v.name if v else BARE for v in variants]
    print()
    print(
        f"µs of CPU per request in one process, {IN_FLIGHT} in flight, medians of {CHUNKS} samples of "
        f"{CHUNK} requests; Δ against the app as shipped (negative: the layer costs that much)."
    )
    print()
    print(table(found, names))
    print()
    print(
        "Pool acquire and release, µs of CPU: "
        + ", ".join(f"{name} {us:.0f}" for name, us in acquire.items())
        + " (Python "
        + sys.version.split()[0]
        + ")."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
