"""The service against a real Better Auth: the JWT plugin's tokens, its JWKS, and its key rotation.

Better Auth runs on Node (tests/support/betterauth/: the npm package at the version its lock pins, the
memory adapter, email and password, the ``jwt()`` plugin with its defaults). Two people sign up over HTTP
and take their tokens where a web app takes them: ``/api/auth/token`` (``authClient.token()``) and the
``set-auth-jwt`` header of ``/api/auth/get-session``. The real service (``python -m service serve``) is
configured as the README's "Connect your Next.js app" says: ``JWT_JWKS_URL``, then ``JWT_ISSUER`` and
``JWT_AUDIENCE`` too, and no ``BETTER_AUTH_SECRET`` at all. ``make test-betterauth`` runs these (CI does).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.support.better_auth import BetterAuth, Person, better_auth
from tests.support.server import clean_env, served

pytestmark = pytest.mark.betterauth

ELSEWHERE = "https://elsewhere.example.com"
ROTATION_SECONDS = 3.0  # Better Auth's jwks.rotationInterval in the rotation test
ACCEPTED_WITHIN = 2.0  # seconds from a rotated key's first token to its acceptance (JWKS_MIN_REFETCH_SECONDS is 1)
FLOODERS = 32  # clients sending tokens with made-up kids, each as fast as it is answered

TOKEN_SOURCES: dict[str, Callable[[Person], str]] = {
    "token-endpoint": Person.token,
    "get-session-header": Person.session_token,
}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BetterAuth]:
    with better_auth(tmp_path_factory.mktemp("better-auth")) as server:
        yield server


@pytest.fixture(scope="module")
def ann(auth_server: BetterAuth) -> Person:
    return auth_server.sign_up("Ann")


@pytest.fixture(scope="module")
def ben(auth_server: BetterAuth) -> Person:
    return auth_server.sign_up("Ben")


@contextmanager
def service(database_url: str, server: BetterAuth, directory: Path, **settings: str) -> Iterator[str]:
    """The service, taking its keys from ``server``'s JWKS and knowing no shared secret."""
    env = {**clean_env(), "DATABASE_URL": database_url, "JWT_JWKS_URL": server.jwks_url, "WORKERS": "1", **settings}
    with served(env, directory) as (_process, base):
        yield base


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert detail in response.json()["detail"], response.text
    assert response.headers["www-authenticate"].startswith("Bearer "), response.headers


def exercise(base: str, owner: Person, owner_token: str, other: Person, other_token: str) -> None:
    """The owner's token does everything with their own tasks; the other person's sees and changes none of it."""
    with httpx.Client(base_url=base, timeout=30) as http:
        mine = f"/api/{owner.user_id}/tasks"
        created = http.post(mine, json={"title": "Buy milk"}, headers=bearer(owner_token))
        assert created.status_code == 201, created.text
        task = created.json()
        assert task["user_id"] == owner.user_id
        one = f"{mine}/{task['id']}"
        assert http.get(one, headers=bearer(owner_token)).json() == task
        assert task["id"] in [listed["id"] for listed in http.get(mine, headers=bearer(owner_token)).json()]
        updated = http.patch(one, json={"title": "Buy oat milk"}, headers=bearer(owner_token))
        assert updated.status_code == 200, updated.text
        assert updated.json()["title"] == "Buy oat milk"
        completed = http.patch(f"{one}/complete", headers=bearer(owner_token))
        assert completed.status_code == 200, completed.text
        assert completed.json()["completed"] is True

        # The other person, with a valid token of their own: 403 on the owner's path...
        for method, url, body in (("GET", mine, None), ("POST", mine, {"title": "not yours"}), ("DELETE", one, None)):
            forbidden = http.request(method, url, json=body, headers=bearer(other_token))
            assert forbidden.status_code == 403, forbidden.text
        # ...and 404 for the owner's task id on their own path, as for a task that never existed.
        theirs = f"/api/{other.user_id}/tasks/{task['id']}"
        never = f"/api/{other.user_id}/tasks/{uuid.uuid4()}"
        for url in (theirs, never):
            assert http.get(url, headers=bearer(other_token)).status_code == 404
            assert http.patch(url, json={"title": "x"}, headers=bearer(other_token)).status_code == 404
            assert http.delete(url, headers=bearer(other_token)).status_code == 404
        assert http.get(one, headers=bearer(owner_token)).json()["title"] == "Buy oat milk"  # untouched

        assert http.delete(one, headers=bearer(owner_token)).status_code == 204
        assert http.get(one, headers=bearer(owner_token)).status_code == 404


@pytest.mark.parametrize("source", TOKEN_SOURCES.values(), ids=TOKEN_SOURCES.keys())
def test_better_auth_tokens_are_what_the_readme_says(
    auth_server: BetterAuth, ann: Person, source: Callable[[Person], str]
) -> None:
    token = source(ann)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"  # the plugin's default key pair, Ed25519
    key_set = jwt.PyJWKSet.from_dict(auth_server.jwks())
    claims = jwt.decode(
        token, key_set[header["kid"]], algorithms=["EdDSA"], audience=auth_server.origin, issuer=auth_server.origin
    )
    assert claims["iss"] == claims["aud"] == auth_server.origin  # the base URL's origin, no trailing slash
    assert claims["sub"] == ann.user_id
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert (claims["name"], claims["email"]) == (ann.name, ann.email)


@pytest.mark.parametrize("check_iss_aud", [False, True], ids=["jwks-url-only", "with-issuer-and-audience"])
def test_people_signed_in_with_better_auth_use_their_own_tasks_only(
    migrated: str, auth_server: BetterAuth, ann: Person, ben: Person, tmp_path: Path, check_iss_aud: bool
) -> None:
    origin = auth_server.origin
    settings = {"JWT_ISSUER": origin, "JWT_AUDIENCE": origin} if check_iss_aud else {}
    with service(migrated, auth_server, tmp_path, **settings) as base:
        for source in TOKEN_SOURCES.values():
            exercise(base, ann, source(ann), ben, source(ben))
            exercise(base, ben, source(ben), ann, source(ann))
        # No shared secret is configured: an HS256 token is refused whatever it is signed with.
        now = int(time.time())
        forged = jwt.encode({"sub": ann.user_id, "iat": now, "exp": now + 60}, "x" * 32, algorithm="HS256")
        response = httpx.get(f"{base}/api/{ann.user_id}/tasks", headers=bearer(forged))
        assert_refused(response, "algorithm is not accepted")


WRONG = {
    "another-issuer": ({"JWT_ISSUER": ELSEWHERE}, "issuer is not accepted"),
    "another-audience": ({"JWT_AUDIENCE": ELSEWHERE}, "audience is not accepted"),
    "issuer-with-trailing-slash": ({"JWT_ISSUER": "{origin}/"}, "issuer is not accepted"),
}


@pytest.mark.parametrize(("wrong", "detail"), WRONG.values(), ids=WRONG.keys())
def test_tokens_for_another_issuer_or_audience_are_refused(
    migrated: str, auth_server: BetterAuth, ann: Person, tmp_path: Path, wrong: dict[str, str], detail: str
) -> None:
    origin = auth_server.origin
    settings = {"JWT_ISSUER": origin, "JWT_AUDIENCE": origin}
    settings.update({name: value.format(origin=origin) for name, value in wrong.items()})
    with service(migrated, auth_server, tmp_path, **settings) as base:
        for source in TOKEN_SOURCES.values():
            assert_refused(httpx.get(f"{base}/api/{ann.user_id}/tasks", headers=bearer(source(ann))), detail)


class Flood:
    """Clients sending, as fast as they are answered, tokens an outsider can make: well formed, unexpired,
    for the right issuer, audience and user, signed with a key of their own under a ``kid`` never published."""

    def __init__(self, url: str, claims: dict[str, Any]):
        self.url = url
        self.claims = claims
        self.answers: list[tuple[int, str, float]] = []  # status, body, seconds
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True) for _ in range(FLOODERS)]

    def __enter__(self) -> Flood:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _send(self) -> None:
        forger = ed25519.Ed25519PrivateKey.generate()
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                now = int(time.time())
                claims = {**self.claims, "iat": now, "exp": now + 900}
                token = jwt.encode(claims, forger, algorithm="EdDSA", headers={"kid": uuid.uuid4().hex})
                started = time.monotonic()
                response = http.get(self.url, headers=bearer(token))
                self.answers.append((response.status_code, response.text, time.monotonic() - started))


def test_a_rotated_key_is_accepted_at_once_even_during_a_flood_of_made_up_kids(
    migrated: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with better_auth(tmp_path, rotation_seconds=ROTATION_SECONDS) as server:
        ann = server.sign_up("Ann")
        origin = server.origin
        with service(migrated, server, tmp_path, JWT_ISSUER=origin, JWT_AUDIENCE=origin) as base:
            url = f"{base}/api/{ann.user_id}/tasks"
            kids: list[str] = []

            def after_rotation() -> float:
                """Seconds from a new key's first token (fetched once the last key expired) to its acceptance."""
                time.sleep(ROTATION_SECONDS + 0.3)
                token = ann.token()
                minted = time.monotonic()
                kid = jwt.get_unverified_header(token)["kid"]
                assert kid not in kids, "Better Auth did not rotate its key"
                kids.append(kid)
                response = httpx.get(url, headers=bearer(token), timeout=30)
                assert response.status_code == 200, response.text
                return time.monotonic() - minted

            quiet = [after_rotation() for _ in range(2)]
            fetched_before = server.jwks_requests()
            flood_started = time.monotonic()
            with Flood(url, {"sub": ann.user_id, "iss": origin, "aud": origin}) as flood:
                flooded = [after_rotation() for _ in range(3)]
            flood_seconds = time.monotonic() - flood_started
            fetched = server.jwks_requests() - fetched_before

    with capsys.disabled():
        print(
            f"\nrotated key accepted after: quiet {', '.join(f'{s:.3f}' for s in quiet)} s; during the flood "
            f"{', '.join(f'{s:.3f}' for s in flooded)} s ({len(flood.answers)} made-up kids in {flood_seconds:.1f} s, "
            f"{fetched} JWKS fetches)"
        )
    assert max(quiet + flooded) < ACCEPTED_WITHIN, (quiet, flooded)
    assert len(flood.answers) > 100
    for status, body, seconds in flood.answers:
        assert (status, json.loads(body)["detail"]) == (401, "token signed with an unknown key"), body
        assert seconds < 3.0  # JWKS_TIMEOUT_SECONDS
    # One fetch per JWKS_MIN_REFETCH_SECONDS (1) at most, however many made-up kids arrive.
    assert 2 <= fetched <= flood_seconds + 2
