"""A key server that accepts the connection but answers late, or trickles: tokens are still answered in time.

A token with an unknown ``kid`` waits for one fetch, bounded by JWKS_TIMEOUT_SECONDS, and is then refused
(401); tokens signed with keys already cached never wait for the key server at all. The key server and the
``Clock`` are those of tests/test_auth.py. The app runs in the test's own event loop, behind httpx's ASGI
transport, so requests really run side by side as under uvicorn: Litestar's AsyncTestClient runs each request
to completion on another thread's loop and blocks its caller meanwhile, which would hide a request waiting on
another.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

import httpx
import pytest

from service.app import create_app
from service.http import auth
from tests.conftest import make_settings
from tests.http.test_auth import (
    REFETCH_SECONDS,
    TASKS,
    Clock,
    JWKSServer,
    SigningKey,
    assert_unauthorized,
    claims,
    jwks_settings,
    make_key,
    with_token,
)

T = TypeVar("T")

TIMEOUT = 1.0  # JWKS_TIMEOUT_SECONDS of these apps
SLACK = 3.0  # on top of TIMEOUT for an answer on a noisy machine; a hang is unbounded
CACHE_SECONDS = 600.0


class SlowJWKSServer(JWKSServer):
    """The key server of tests/test_auth.py that can stall: ``stall`` holds each answer back for that many
    seconds (sending nothing); ``trickle`` sends the answer's head a byte at a time, each well within a
    read timeout, for that many seconds. ``arrived`` counts requests as they come in; ``stop`` ends every
    stall at once."""

    def __init__(self) -> None:
        self.stall = 0.0
        self.trickle = 0.0
        self.arrived = 0
        self._released = threading.Event()
        super().__init__()

    def slow_down(self, *, stall: float = 0.0, trickle: float = 0.0) -> None:
        self.stall, self.trickle = stall, trickle

    def stop(self) -> None:
        self._released.set()
        super().stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self
        answer = super()._handler()

        class Handler(answer):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                server.arrived += 1
                if server.stall:
                    server._released.wait(server.stall)
                if server.trickle:
                    self._trickle(time.monotonic() + server.trickle)
                    return
                super().do_GET()

            def _trickle(self, until: float) -> None:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while time.monotonic() < until and not server._released.wait(TIMEOUT / 4):
                    self.wfile.write(b"z")

        return Handler


@pytest.fixture
def slow_server() -> Iterator[SlowJWKSServer]:
    server = SlowJWKSServer()
    yield server
    server.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth, "time", fake)
    return fake


@asynccontextmanager
async def serve(database_url: str, server: SlowJWKSServer, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app taking its keys from ``server``, with its lifespan, in this event loop.

    Enter it in the test itself, not in a fixture: anyio's cancel scopes must be left by the task that
    entered them, and a fixture's teardown runs in another.
    """
    settings = make_settings(database_url, **jwks_settings(server), jwks_timeout_seconds=TIMEOUT, **overrides)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar spells its ASGI types narrower
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
        server.stop()  # ends any fetch still stalled before the app closes its HTTP client
        await asyncio.sleep(0.2)


@asynccontextmanager
async def app_with_cached_keys(
    database_url: str, server: SlowJWKSServer, keys: list[SigningKey]
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose keys were fetched at start-up, before the key server turned slow."""
    server.publish(*keys)
    async with serve(database_url, server, jwks_cache_seconds=CACHE_SECONDS) as client:
        assert server.arrived == 1
        yield client


async def get_tasks(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(TASKS, headers=with_token(token))


async def assert_accepted(client: httpx.AsyncClient, key: SigningKey) -> None:
    response = await get_tasks(client, key.sign(claims()))
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def cached_keys() -> list[SigningKey]:
    return [make_key("EdDSA"), make_key("ES256")]


async def timed(request: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await asyncio.wait_for(request, timeout=TIMEOUT + 10 * SLACK)  # fail, not hang, if unbounded
    return result, time.monotonic() - started


async def until_arrived(server: SlowJWKSServer, count: int) -> None:
    for _ in range(200):
        if server.arrived >= count:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"the key server got {server.arrived} requests, not {count}")


STALLS = {
    "silent": {"stall": 10 * TIMEOUT},  # says nothing, then answers long after the timeout
    "trickle": {"trickle": 10 * TIMEOUT},  # a byte every TIMEOUT/4: no single read ever times out
}
Stall = dict[str, float]


@pytest.mark.parametrize("how", STALLS.values(), ids=STALLS.keys())
async def test_unknown_kid_is_401_within_the_timeout_and_cached_keys_do_not_wait(
    migrated: str, slow_server: SlowJWKSServer, cached_keys: list[SigningKey], clock: Clock, how: Stall
) -> None:
    async with app_with_cached_keys(migrated, slow_server, cached_keys) as app:
        slow_server.slow_down(**how)
        clock.advance(REFETCH_SECONDS + 1)
        stranger = make_key("EdDSA").sign(claims())
        refused = asyncio.create_task(timed(get_tasks(app, stranger)))
        await until_arrived(slow_server, 2)
        # While the fetch is stalled, every cached key works, without waiting for it.
        for key in cached_keys * 3:
            await assert_accepted(app, key)
        assert not refused.done()
        response, seconds = await refused
        assert_unauthorized(response, "unknown key")
        assert TIMEOUT * 0.9 <= seconds < TIMEOUT + SLACK
        # The failed fetch kept the keys, and counts against the refetch window: no second fetch.
        assert_unauthorized(await get_tasks(app, stranger), "unknown key")
        await assert_accepted(app, cached_keys[0])
        assert slow_server.arrived == 2


@pytest.mark.parametrize("how", STALLS.values(), ids=STALLS.keys())
async def test_many_unknown_kids_during_a_stall_are_all_401_in_time_with_one_fetch(
    migrated: str, slow_server: SlowJWKSServer, cached_keys: list[SigningKey], clock: Clock, how: Stall
) -> None:
    async with app_with_cached_keys(migrated, slow_server, cached_keys) as app:
        slow_server.slow_down(**how)
        clock.advance(REFETCH_SECONDS + 1)
        strangers = [make_key("EdDSA").sign(claims(), kid=f"made-up-{n}") for n in range(20)]
        answers = await asyncio.gather(*(timed(get_tasks(app, token)) for token in strangers))
        for response, seconds in answers:
            assert_unauthorized(response, "unknown key")
            assert seconds < TIMEOUT + SLACK
        assert slow_server.arrived == 2


@pytest.mark.parametrize("how", STALLS.values(), ids=STALLS.keys())
async def test_expired_cache_refreshing_from_a_stalled_server_keeps_serving_cached_keys(
    migrated: str, slow_server: SlowJWKSServer, cached_keys: list[SigningKey], clock: Clock, how: Stall
) -> None:
    async with app_with_cached_keys(migrated, slow_server, cached_keys) as app:
        slow_server.slow_down(**how)
        clock.advance(CACHE_SECONDS + 1)  # the keys are due a refresh: the next request starts one in the background
        started = time.monotonic()
        await assert_accepted(app, cached_keys[0])
        await until_arrived(slow_server, 2)
        for key in cached_keys * 3:
            await assert_accepted(app, key)
        assert time.monotonic() - started < TIMEOUT  # none waited for the stalled fetch
        # Once that fetch has given up, the keys are still there, and a key server that recovers is used again.
        await asyncio.sleep(TIMEOUT + 0.5)
        await assert_accepted(app, cached_keys[1])
        rotated = make_key("RS256")
        slow_server.slow_down()
        slow_server.publish(rotated, *cached_keys)
        clock.advance(REFETCH_SECONDS + 1)
        await assert_accepted(app, rotated)
        assert slow_server.arrived == 3


@pytest.mark.parametrize("how", STALLS.values(), ids=STALLS.keys())
async def test_a_key_server_stalled_at_start_up_delays_it_by_the_timeout_only(
    migrated: str, slow_server: SlowJWKSServer, clock: Clock, how: Stall
) -> None:
    key = make_key("ES256")
    slow_server.publish(key)
    slow_server.slow_down(**how)
    started = time.monotonic()
    async with serve(migrated, slow_server) as client:
        assert time.monotonic() - started < TIMEOUT + SLACK
        assert (await client.get("/health")).status_code == 200
        # Within the window of the start-up attempt an unknown kid is refused at once.
        response, seconds = await timed(get_tasks(client, key.sign(claims())))
        assert_unauthorized(response, "unknown key")
        assert seconds < SLACK
        slow_server.slow_down()
        clock.advance(REFETCH_SECONDS + 1)
        await assert_accepted(client, key)
