"""When an unknown ``kid`` makes the service fetch the JWKS again, with a refetch interval shorter than the timeout.

A key server publishes a new key only once it signs with it, so the service meets every new key as an unknown
``kid``. Such a token waits for the next fetch that starts after it arrived (many share one), fetches start at
least JWKS_MIN_REFETCH_SECONDS apart whatever asks for them, and a token that is invalid on its face (expired,
for another issuer, without a subject) is refused before it can ask. So a real new key is accepted within one
interval, even while someone floods the service with made-up ``kid``s, and the flood costs the key server one
request per interval. The apps run in the test's own event loop, behind httpx's ASGI transport, so requests
really run side by side (see tests/http/test_jwks_slow.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.http import auth
from tests.conftest import make_settings
from tests.http.test_auth import (
    AUDIENCE,
    ISSUER,
    TASKS,
    Clock,
    JWKSServer,
    SigningKey,
    assert_unauthorized,
    b64json,
    claims,
    hand_made,
    make_key,
    with_token,
    without,
)

INTERVAL = 0.5  # JWKS_MIN_REFETCH_SECONDS of these apps
TIMEOUT = 3.0  # JWKS_TIMEOUT_SECONDS
SLACK = 1.5  # on top of an expected wait, for a noisy machine
# Fetches are timed as they reach the key server, each a little after the app sent it, by however long the
# key server's thread took to run: two fetches INTERVAL apart may seem closer by that much.
SKEW = 0.15


class TimedJWKSServer(JWKSServer):
    """The key server of tests/http/test_auth.py, noting when each request arrived (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        super().__init__()

    def _respond(self) -> tuple[int, bytes]:
        self.arrivals.append(time.monotonic())
        return super()._respond()

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in zip(self.arrivals, self.arrivals[1:], strict=False)]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth, "time", fake)
    return fake


@pytest.fixture
def key_server() -> Iterator[TimedJWKSServer]:
    server = TimedJWKSServer()
    yield server
    server.stop()


@asynccontextmanager
async def serve(database_url: str, server: JWKSServer, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app taking its keys from ``server``, with its lifespan, in this event loop (enter it in the test)."""
    settings = make_settings(
        database_url,
        better_auth_secret="",
        jwt_jwks_url=server.url,
        jwks_min_refetch_seconds=INTERVAL,
        jwks_timeout_seconds=TIMEOUT,
        **overrides,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar spells its ASGI types narrower
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def get_tasks(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(TASKS, headers=with_token(token))


async def timed_get(client: httpx.AsyncClient, token: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await asyncio.wait_for(get_tasks(client, token), timeout=TIMEOUT + 10 * SLACK)
    return response, time.monotonic() - started


@pytest.fixture(scope="module")
def first_key() -> SigningKey:
    return make_key("EdDSA")


async def test_a_new_key_met_within_the_interval_waits_for_the_next_fetch(
    migrated: str, key_server: TimedJWKSServer, first_key: SigningKey
) -> None:
    key_server.publish(first_key)
    async with serve(migrated, key_server) as app:
        rotated = make_key("EdDSA")
        key_server.publish(first_key, rotated)  # right after the start-up fetch, as after a rotation
        response, seconds = await timed_get(app, rotated.sign(claims()))
        assert response.status_code == 200, response.text
        assert seconds < INTERVAL + SLACK
        assert len(key_server.arrivals) == 2
        assert key_server.gaps()[0] >= INTERVAL - SKEW
        # From then on the new key is cached: no wait, no fetch.
        response, seconds = await timed_get(app, rotated.sign(claims(ttl=600)))
        assert response.status_code == 200, response.text
        assert len(key_server.arrivals) == 2


async def test_tokens_with_the_same_new_kid_share_one_fetch(
    migrated: str, key_server: TimedJWKSServer, first_key: SigningKey
) -> None:
    key_server.publish(first_key)
    async with serve(migrated, key_server) as app:
        rotated = make_key("ES256")
        key_server.publish(first_key, rotated)
        tokens = [rotated.sign(claims(jti=str(n))) for n in range(20)]  # twenty different tokens
        answers = await asyncio.gather(*(timed_get(app, token) for token in tokens))
        for response, seconds in answers:
            assert response.status_code == 200, response.text
            assert seconds < INTERVAL + SLACK
        assert len(key_server.arrivals) == 2


async def test_a_flood_of_made_up_kids_costs_one_fetch_per_interval_and_never_holds_back_a_new_key(
    migrated: str, key_server: TimedJWKSServer, first_key: SigningKey
) -> None:
    key_server.publish(first_key)
    forger = make_key("EdDSA")
    flood_answers: list[tuple[httpx.Response, float]] = []
    async with serve(migrated, key_server) as app:
        stop = asyncio.Event()

        async def flood() -> None:
            # Tokens an outsider can make: well formed, unexpired, with a subject, under a kid never published.
            while not stop.is_set():
                flood_answers.append(await timed_get(app, forger.sign(claims(), kid=f"made-up-{uuid.uuid4().hex}")))

        flooding = [asyncio.create_task(flood()) for _ in range(10)]
        flood_started = time.monotonic()
        await asyncio.sleep(3 * INTERVAL)  # the flood is under way, fetching once per interval
        waits = []
        for _ in range(3):  # three rotations, each met in the middle of the flood
            rotated = make_key("EdDSA")
            key_server.publish(first_key, rotated)
            response, seconds = await timed_get(app, rotated.sign(claims()))
            assert response.status_code == 200, response.text
            waits.append(seconds)
            await asyncio.sleep(INTERVAL / 3)
        stop.set()
        await asyncio.gather(*flooding)
        flood_seconds = time.monotonic() - flood_started
    assert max(waits) < INTERVAL + SLACK, waits
    assert len(flood_answers) > 50  # it was a flood
    for response, seconds in flood_answers:
        assert_unauthorized(response, "unknown key")
        assert seconds < INTERVAL + SLACK
    assert min(key_server.gaps()) >= INTERVAL - SKEW
    assert len(key_server.arrivals) <= 2 + flood_seconds / INTERVAL


def with_iss_aud(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "iss": ISSUER, "aud": AUDIENCE}


FACE = {  # tokens no key could make valid (made when the test runs, as their times matter), and their 401
    "expired": (lambda: with_iss_aud(claims(ttl=-120)), "token has expired"),
    "not-valid-yet": (lambda: with_iss_aud(claims(nbf=int(time.time()) + 3600)), "token is not valid yet"),
    "another-issuer": (lambda: {**with_iss_aud(claims()), "iss": "https://evil.example.com"}, "issuer is not accepted"),
    "no-issuer": (lambda: without(with_iss_aud(claims()), "iss"), "lacks the 'iss' claim"),
    "another-audience": (lambda: {**with_iss_aud(claims()), "aud": "https://other.example.com"}, "audience"),
    "no-audience": (lambda: without(with_iss_aud(claims()), "aud"), "lacks the 'aud' claim"),
    "no-exp": (lambda: without(with_iss_aud(claims()), "exp"), "lacks the 'exp' claim"),
    "no-sub": (lambda: without(with_iss_aud(claims()), "sub"), "lacks the 'sub' claim"),
    "empty-sub": (lambda: with_iss_aud(claims("")), "subject is empty"),
    "sub-too-long": (lambda: with_iss_aud(claims("u" * 256)), "not a valid user id"),
}


@pytest.mark.parametrize(("payload", "detail"), FACE.values(), ids=FACE.keys())
async def test_a_token_invalid_on_its_face_never_reaches_the_key_server(
    migrated: str,
    key_server: TimedJWKSServer,
    first_key: SigningKey,
    clock: Clock,
    payload: Callable[[], dict[str, Any]],
    detail: str,
) -> None:
    key_server.publish(first_key)
    async with serve(migrated, key_server, jwt_issuer=ISSUER, jwt_audience=AUDIENCE) as app:
        clock.advance(INTERVAL + 1)  # a fetch would be allowed at once
        stranger = make_key("EdDSA")
        response, seconds = await timed_get(app, stranger.sign(payload()))
        assert_unauthorized(response, detail)
        assert seconds < SLACK
        assert len(key_server.arrivals) == 1  # the start-up fetch only
        # The same token, valid on its face, does make the service look for its key.
        assert_unauthorized(await get_tasks(app, stranger.sign(with_iss_aud(claims()))), "key")
        assert len(key_server.arrivals) == 2


async def test_a_payload_that_is_no_claims_object_never_reaches_the_key_server(
    migrated: str, key_server: TimedJWKSServer, first_key: SigningKey, clock: Clock
) -> None:
    key_server.publish(first_key)
    async with serve(migrated, key_server) as app:
        clock.advance(INTERVAL + 1)
        for payload in (["alice"], "alice", 42):
            token = hand_made({"alg": "EdDSA", "kid": "made-up"}, payload, lambda data: b"x" * 64)
            assert_unauthorized(await get_tasks(app, token), "malformed")
        not_json = f"{b64json({'alg': 'EdDSA', 'kid': 'made-up'})}.bm90IGpzb24.eA"
        assert_unauthorized(await get_tasks(app, not_json), "malformed")
        assert len(key_server.arrivals) == 1
