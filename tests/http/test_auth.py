"""Authentication, as API.md's "Who may do what" states it: real tokens, sent over HTTP to the app.

The HS256 tests use the shared ``client`` (secret ``SECRET``). The JWKS tests start a real key server
on 127.0.0.1 and an app that fetches its keys from there; a ``Clock`` moves the JWKS cache's notion of
time forward, so the refetch window can be crossed without waiting for it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from litestar.exceptions import NotAuthorizedException
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.http import auth
from tests.conftest import ALICE, BOB, SECRET, TestClient, bearer, make_settings

USER = "alice"
TASKS = f"/api/{USER}/tasks"
PROBLEM_JSON = "application/problem+json"
ISSUER = "https://auth.example.com"
AUDIENCE = "https://tasks.example.com"
# JWKS_MIN_REFETCH_SECONDS of the JWKS apps: longer than JWKS_TIMEOUT_SECONDS, so an unknown kid met within it
# is refused at once, as the next fetch could not start in time (tests/http/test_jwks_refetch.py: a shorter one).
REFETCH_SECONDS = 30.0
PUBLIC_KEY_ALGORITHMS = ("EdDSA", "ES256", "RS256")

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


# --- tokens -------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(sub: Any = USER, *, ttl: int = 300, **extra: Any) -> dict[str, Any]:
    """Claims as in Better Auth's tokens: ``sub``, ``iat`` and ``exp`` (``ttl`` seconds from now)."""
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + ttl, **extra}


def without(payload: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in payload.items() if name not in names}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def hand_made(header: dict[str, Any], payload: Any, sign: Callable[[bytes], bytes] | None = None) -> str:
    """A token built without PyJWT, so it can be anything PyJWT refuses to produce; unsigned without ``sign``."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(key, data, hashlib.sha256).digest()


def with_token(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class SigningKey:
    """A private key and the public JWK a key server publishes for it."""

    algorithm: str
    kid: str
    private: PrivateKey
    jwk: dict[str, Any]

    def sign(self, payload: dict[str, Any], **header: Any) -> str:
        """A token signed with this key; its ``kid`` unless ``kid=`` says otherwise (``kid=None``: none)."""
        fields = {"kid": self.kid, **header}
        return jwt.encode(
            payload,
            self.private,
            algorithm=self.algorithm,
            headers={name: value for name, value in fields.items() if value is not None},
        )

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def make_key(algorithm: str, *, kid: str | None = None, publish_alg: bool = True) -> SigningKey:
    private: PrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(f"no key for {algorithm}")
    kid = kid or f"{algorithm}-{uuid.uuid4().hex[:12]}"
    jwk = {**jwk, "kid": kid, "use": "sig"}
    if publish_alg:
        jwk["alg"] = algorithm
    return SigningKey(algorithm=algorithm, kid=kid, private=private, jwk=jwk)


# --- checks -------------------------------------------------------------------------------------


def assert_unauthorized(response: httpx.Response, detail: str, *, error: str | None = "invalid_token") -> None:
    """A 401 problem whose ``detail`` contains ``detail``, with a Bearer challenge carrying ``error`` (or none)."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == 401
    assert detail in body["detail"], body
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer "), challenge
    if error is None:
        assert "error=" not in challenge, challenge
    else:
        assert f'error="{error}"' in challenge, challenge


async def assert_accepted(client: TestClient, headers: dict[str, str], user: str = USER) -> None:
    """The token works end to end: it creates a task for ``user``, and the list then holds it."""
    path = f"/api/{quote(user, safe='')}/tasks"
    created = await client.post(path, json={"title": "made with a token"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["user_id"] == user
    listed = await client.get(path, headers=headers)
    assert listed.status_code == 200, listed.text
    assert created.json()["id"] in [task["id"] for task in listed.json()]


async def get_tasks(client: TestClient, token: str, user: str = USER) -> httpx.Response:
    return await client.get(f"/api/{quote(user, safe='')}/tasks", headers=with_token(token))


# --- apps, the key server and the clock ---------------------------------------------------------


@asynccontextmanager
async def serve(database_url: str, **overrides: Any) -> AsyncIterator[TestClient]:
    """The app with other settings than the shared ``client``'s, served in-process."""
    async with AsyncTestClient(app=create_app(make_settings(database_url, **overrides))) as client:
        yield client


class JWKSServer:
    """A key server on 127.0.0.1 that counts its requests.

    It serves ``{"keys": keys}``, or ``raw`` (a status and a body) when that is set.
    """

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.raw: tuple[int, bytes] | None = None
        self.requests = 0
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._running = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_port}/api/auth/jwks"

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [key.jwk for key in keys]
        self.raw = None

    def serve_raw(self, status: int, body: bytes) -> None:
        self.raw = (status, body)

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._http.shutdown()
            self._http.server_close()
            self._thread.join()

    def _respond(self) -> tuple[int, bytes]:
        with self._lock:
            self.requests += 1
            if self.raw is not None:
                return self.raw
            return 200, json.dumps({"keys": self.keys}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server._respond()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        return Handler


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    yield server
    server.stop()


class Clock:
    """Stands in for the ``time`` module inside service.auth: a monotonic clock a test can move forward."""

    def __init__(self) -> None:
        self.skew = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skew

    def time(self) -> float:
        return time.time()

    def advance(self, seconds: float) -> None:
        self.skew += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth, "time", fake)
    return fake


def jwks_settings(server: JWKSServer, *, secret: str = "") -> dict[str, Any]:
    """Settings for an app that takes keys from ``server`` (and, with ``secret``, HS256 tokens too)."""
    return {"better_auth_secret": secret, "jwt_jwks_url": server.url, "jwks_min_refetch_seconds": REFETCH_SECONDS}


@pytest.fixture(scope="session")
def published_keys() -> dict[str, SigningKey]:
    """One key per public-key algorithm, keyed by algorithm."""
    return {algorithm: make_key(algorithm) for algorithm in PUBLIC_KEY_ALGORITHMS}


@pytest.fixture
async def jwks_client(
    migrated: str, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], clock: Clock
) -> AsyncIterator[TestClient]:
    """An app configured with only a JWKS URL, whose server publishes ``published_keys``."""
    jwks_server.publish(*published_keys.values())
    async with serve(migrated, **jwks_settings(jwks_server)) as client:
        assert jwks_server.requests == 1  # the start-up fetch
        yield client


# --- HS256 tokens -------------------------------------------------------------------------------


async def test_hs256_token_creates_and_lists_tasks(client: TestClient) -> None:
    await assert_accepted(client, with_token(hs256(claims())))


async def test_token_from_issue_token_is_accepted(client: TestClient) -> None:
    await assert_accepted(client, bearer(USER))


async def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    await assert_accepted(client, {"Authorization": f"bearer {hs256(claims())}"})


async def test_missing_authorization_header_is_a_challenge_without_error_code(client: TestClient) -> None:
    response = await client.get(TASKS)
    assert_unauthorized(response, "missing bearer token", error=None)
    assert 'realm="task-api"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "value",
    ["Basic YWxpY2U6cGFzc3dvcmQ=", "Token {token}", "JWT {token}", "{token}"],
    ids=["basic", "token-scheme", "jwt-scheme", "no-scheme"],
)
async def test_other_schemes_are_a_challenge_without_error_code(client: TestClient, value: str) -> None:
    response = await client.get(TASKS, headers={"Authorization": value.format(token=hs256(claims()))})
    assert_unauthorized(response, "must be 'Bearer <token>'", error=None)


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    "], ids=["bare", "one-space", "spaces"])
async def test_empty_bearer_token_is_an_invalid_request(client: TestClient, value: str) -> None:
    response = await client.get(TASKS, headers={"Authorization": value})
    assert_unauthorized(response, "must be 'Bearer <token>'", error="invalid_request")


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "...",
        "!!!.@@@.###",
        f"{b64json({'alg': 'HS256', 'typ': 'JWT'})}.",
        f"{b64url(b'not json')}.{b64json(claims())}.c2ln",
        f"{b64json(['HS256'])}.{b64json(claims())}.c2ln",
    ],
    ids=[
        "one-segment",
        "a.b.c",
        "two-segments",
        "four-segments",
        "dots",
        "not-base64",
        "header-only",
        "header-not-json",
        "header-a-list",
    ],
)
async def test_malformed_tokens_are_rejected(client: TestClient, token: str) -> None:
    assert_unauthorized(await get_tasks(client, token), "malformed")


@pytest.mark.parametrize(
    "payload",
    [b64url(b"not json"), b64json(["alice"]), b64json("alice")],
    ids=["not-json", "a-list", "a-string"],
)
async def test_correctly_signed_payload_that_is_not_a_claims_object_is_rejected(
    client: TestClient, payload: str
) -> None:
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT'})}.{payload}"
    signature = hmac_sha256(SECRET.encode())(signing_input.encode())
    assert_unauthorized(await get_tasks(client, f"{signing_input}.{b64url(signature)}"), "malformed")


async def test_expired_token_is_rejected(client: TestClient) -> None:
    assert_unauthorized(await get_tasks(client, hs256(claims(ttl=-120))), "expired")


async def test_token_expired_within_the_leeway_is_accepted(client: TestClient) -> None:
    # JWT_LEEWAY_SECONDS is 30 by default: a clock a few seconds behind the issuer's is no reason to refuse.
    await assert_accepted(client, with_token(hs256(claims(ttl=-10))))


async def test_token_without_exp_is_rejected(client: TestClient) -> None:
    assert_unauthorized(await get_tasks(client, hs256(without(claims(), "exp"))), "lacks the 'exp' claim")


@pytest.mark.parametrize(
    ("exp", "detail"),
    [("tomorrow", "malformed"), ([1], "malformed"), (None, "lacks the 'exp' claim")],
    ids=["string", "list", "null"],
)
async def test_token_with_unusable_exp_is_rejected(client: TestClient, exp: Any, detail: str) -> None:
    assert_unauthorized(await get_tasks(client, hs256({**claims(), "exp": exp})), detail)


async def test_token_without_sub_is_rejected(client: TestClient) -> None:
    assert_unauthorized(await get_tasks(client, hs256(without(claims(), "sub"))), "lacks the 'sub' claim")


@pytest.mark.parametrize(
    ("sub", "path_user", "detail"),
    [
        ("", USER, "subject is empty"),
        ("   ", USER, "subject is empty"),
        (123, "123", "malformed"),
        (["alice"], USER, "malformed"),
        ({"id": "alice"}, USER, "malformed"),
        (True, "True", "malformed"),
        ("a" * 256, "a" * 256, "not a valid user id"),
        ("ali\x00ce", "ali\x00ce", "not a valid user id"),
    ],
    ids=["empty", "blank", "integer", "list", "object", "boolean", "256-chars", "nul-byte"],
)
async def test_unusable_sub_is_rejected(client: TestClient, sub: Any, path_user: str, detail: str) -> None:
    # The path names the user the sub would stand for, so only the sub itself can be the reason to refuse.
    assert_unauthorized(await get_tasks(client, hs256(claims(sub)), user=path_user), detail)


async def test_sub_of_255_characters_is_accepted(client: TestClient) -> None:
    user = "u" * 255
    await assert_accepted(client, with_token(hs256(claims(user))), user=user)


async def test_token_signed_with_another_secret_is_rejected(client: TestClient) -> None:
    token = hs256(claims(), secret="another-secret-that-is-at-least-32-bytes-long")
    assert_unauthorized(await get_tasks(client, token), "signature does not verify")


async def test_tampered_payload_with_the_original_signature_is_rejected(client: TestClient) -> None:
    header, _, signature = hs256(claims("alice")).split(".")
    forged = f"{header}.{b64json(claims('bob'))}.{signature}"
    assert_unauthorized(await get_tasks(client, forged, user="bob"), "signature does not verify")


async def test_stripped_signature_is_rejected(client: TestClient) -> None:
    header, payload, _ = hs256(claims()).split(".")
    assert_unauthorized(await get_tasks(client, f"{header}.{payload}."), "signature does not verify")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_other_hmac_algorithms_are_rejected_even_with_the_right_secret(
    client: TestClient, algorithm: str
) -> None:
    digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    token = hand_made(
        {"alg": algorithm, "typ": "JWT"}, claims(), lambda data: hmac.new(SECRET.encode(), data, digest).digest()
    )
    assert_unauthorized(await get_tasks(client, token), "algorithm is not accepted")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_unsigned_token_is_rejected(client: TestClient, alg: str) -> None:
    token = hand_made({"alg": alg, "typ": "JWT"}, claims())
    assert token.endswith(".")  # header.payload. with an empty signature
    assert_unauthorized(await get_tasks(client, token), "algorithm is not accepted")


async def test_token_without_alg_is_rejected(client: TestClient) -> None:
    token = hand_made({"typ": "JWT"}, claims(), hmac_sha256(SECRET.encode()))
    assert_unauthorized(await get_tasks(client, token), "algorithm is not accepted")


@pytest.mark.parametrize("alg", [["HS256"], {"name": "HS256"}, 256, True], ids=["list", "object", "number", "boolean"])
async def test_token_whose_alg_is_not_a_string_is_rejected(client: TestClient, alg: Any) -> None:
    token = hand_made({"alg": alg, "typ": "JWT"}, claims(), hmac_sha256(SECRET.encode()))
    assert_unauthorized(await get_tasks(client, token), "algorithm is not accepted")


@pytest.mark.parametrize(
    "crit", [["exp"], ["b64"], ["urn:example:unknown"], [], "exp"], ids=["claim", "b64", "unknown", "empty", "string"]
)
async def test_a_correctly_signed_token_with_a_critical_header_is_rejected(client: TestClient, crit: Any) -> None:
    # RFC 7515 4.1.11: a recipient that does not understand every listed extension must reject the token;
    # we understand none.
    token = hand_made({"alg": "HS256", "typ": "JWT", "crit": crit}, claims(), hmac_sha256(SECRET.encode()))
    assert_unauthorized(await get_tasks(client, token), "token is malformed")
    honest = hand_made({"alg": "HS256", "typ": "JWT"}, claims(), hmac_sha256(SECRET.encode()))
    await assert_accepted(client, with_token(honest))


async def test_public_key_token_is_rejected_when_no_jwks_is_configured(
    client: TestClient, published_keys: dict[str, SigningKey]
) -> None:
    for key in published_keys.values():
        assert_unauthorized(await get_tasks(client, key.sign(claims())), "algorithm is not accepted")


async def test_token_larger_than_8192_bytes_is_rejected_and_one_at_the_limit_accepted(client: TestClient) -> None:
    # Grow a correctly signed token one padding character at a time until it crosses the limit.
    previous = token = ""
    padding = 5000
    while len(token) <= auth.MAX_TOKEN_BYTES:
        previous, token = token, hs256(claims(pad="x" * padding))
        padding += 1
    assert auth.MAX_TOKEN_BYTES - 2 <= len(previous) <= auth.MAX_TOKEN_BYTES < len(token)
    assert_unauthorized(await get_tasks(client, token), "too large")
    await assert_accepted(client, with_token(previous))


@pytest.mark.parametrize(
    "extra",
    [{"nbf": int(time.time()) + 3600}, {"iat": int(time.time()) + 3600}],
    ids=["nbf-in-an-hour", "iat-in-an-hour"],
)
async def test_token_not_valid_yet_is_rejected(client: TestClient, extra: dict[str, Any]) -> None:
    assert_unauthorized(await get_tasks(client, hs256({**claims(), **extra})), "not valid yet")


async def test_nbf_within_the_leeway_is_accepted(client: TestClient) -> None:
    await assert_accepted(client, with_token(hs256(claims(nbf=int(time.time()) + 10))))


async def test_iss_and_aud_are_ignored_when_not_configured(client: TestClient) -> None:
    # Better Auth always puts both in its tokens; without JWT_ISSUER / JWT_AUDIENCE they are not checked.
    token = hs256(claims(iss="https://auth.example.com", aud="https://app.example.com"))
    await assert_accepted(client, with_token(token))
    await assert_accepted(client, with_token(hs256(claims(aud=["a", "b"]))))


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"iss": "https://evil.example.com", "aud": AUDIENCE}, "issuer is not accepted"),
        ({"iss": ISSUER.upper(), "aud": AUDIENCE}, "issuer is not accepted"),
        ({"aud": AUDIENCE}, "lacks the 'iss' claim"),
        ({"iss": ISSUER, "aud": "https://other.example.com"}, "audience is not accepted"),
        ({"iss": ISSUER, "aud": ["https://other.example.com"]}, "audience is not accepted"),
        ({"iss": ISSUER}, "lacks the 'aud' claim"),
    ],
    ids=["wrong-iss", "iss-case", "missing-iss", "wrong-aud", "wrong-aud-list", "missing-aud"],
)
async def test_iss_and_aud_are_enforced_when_configured(migrated: str, extra: dict[str, Any], detail: str) -> None:
    async with serve(migrated, jwt_issuer=ISSUER, jwt_audience=AUDIENCE) as client:
        assert_unauthorized(await get_tasks(client, hs256(claims(**extra))), detail)
        await assert_accepted(client, with_token(hs256(claims(iss=ISSUER, aud=AUDIENCE))))
        await assert_accepted(
            client, with_token(hs256(claims(iss=ISSUER, aud=["https://other.example.com", AUDIENCE])))
        )


async def test_issuer_alone_is_enforced_and_aud_then_ignored(migrated: str) -> None:
    async with serve(migrated, jwt_issuer=ISSUER) as client:
        assert_unauthorized(await get_tasks(client, hs256(claims(iss="https://evil.example.com"))), "issuer")
        await assert_accepted(client, with_token(hs256(claims(iss=ISSUER, aud="anything"))))


# --- whose tasks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"title": "not yours"}),
        ("GET", "/{id}", None),
        ("PUT", "/{id}", {"title": "not yours"}),
        ("PATCH", "/{id}", {"title": "not yours"}),
        ("PATCH", "/{id}/complete", None),
        ("DELETE", "/{id}", None),
    ],
    ids=["list", "create", "get", "replace", "update", "complete", "delete"],
)
async def test_token_of_another_user_is_forbidden(
    client: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    created = await client.post("/api/bob/tasks", json={"title": "bob's"}, headers=BOB)
    assert created.status_code == 201, created.text
    task = created.json()
    url = "/api/bob/tasks" + suffix.format(id=task["id"])
    response = await client.request(method, url, json=body, headers=ALICE)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["status"] == 403
    assert problem["detail"] == "the token does not grant access to this user's tasks"
    listed = await client.get("/api/bob/tasks", headers=BOB)
    assert listed.json() == [task]  # nothing changed behind bob's back


@pytest.mark.parametrize("path_user", ["Alice", "alice ", "alic", "alice2"])
async def test_path_user_must_be_exactly_the_sub(client: TestClient, path_user: str) -> None:
    response = await client.get(f"/api/{quote(path_user)}/tasks", headers=ALICE)
    assert response.status_code == 403, response.text
    assert response.json()["status"] == 403


# --- what needs no token, and the OpenAPI document ----------------------------------------------


async def test_health_and_docs_need_no_token(client: TestClient) -> None:
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/docs/openapi.json")).status_code == 200


async def test_cors_preflight_needs_no_token(client: TestClient) -> None:
    response = await client.options(
        TASKS,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code in (200, 204), response.text
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_openapi_declares_bearer_auth_on_every_api_operation(migrated: str) -> None:
    async with serve(migrated, events_enabled=True) as client:  # every route, as deployed
        response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    document = response.json()
    schemes = document["components"]["securitySchemes"]
    bearer_schemes = {
        name for name, scheme in schemes.items() if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    }
    assert bearer_schemes, schemes
    assert "security" not in document  # no global requirement: /health must stay open
    methods = {"get", "put", "post", "delete", "patch"}
    api_operations = health_operations = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in methods:
                continue
            if path.startswith("/api/"):
                api_operations += 1
                required = {name for requirement in operation.get("security", []) for name in requirement}
                assert required & bearer_schemes, f"{method.upper()} {path} does not require the bearer token"
                assert {"401", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"
            elif path.startswith("/health"):
                health_operations += 1
                assert not operation.get("security"), f"{method.upper()} {path} should need no token"
    assert api_operations == 28  # tasks 11, lists 5, tags 1, trash 4, changes 1, reminders 1, events 1, account 4
    assert health_operations == 2


# --- public keys from a JWKS URL ----------------------------------------------------------------


@pytest.mark.parametrize("publish_alg", [True, False], ids=["with-alg", "without-alg"])
@pytest.mark.parametrize("algorithm", PUBLIC_KEY_ALGORITHMS)
async def test_jwks_signed_token_is_accepted(
    migrated: str, jwks_server: JWKSServer, clock: Clock, algorithm: str, publish_alg: bool
) -> None:
    key = make_key(algorithm, publish_alg=publish_alg)
    assert ("alg" in key.jwk) is publish_alg
    jwks_server.publish(key, make_key("EdDSA"))
    async with serve(migrated, **jwks_settings(jwks_server)) as client:
        await assert_accepted(client, with_token(key.sign(claims())))
    assert jwks_server.requests == 1  # fetched at start-up, then served from the cache


async def test_every_published_algorithm_is_accepted_by_one_app(
    jwks_client: TestClient, jwks_server: JWKSServer, published_keys: dict[str, SigningKey]
) -> None:
    for key in published_keys.values():
        await assert_accepted(jwks_client, with_token(key.sign(claims())))
    assert jwks_server.requests == 1


async def test_token_without_kid_is_accepted_when_the_set_has_one_key(
    migrated: str, jwks_server: JWKSServer, clock: Clock
) -> None:
    key = make_key("EdDSA")
    jwks_server.publish(key)
    async with serve(migrated, **jwks_settings(jwks_server)) as client:
        await assert_accepted(client, with_token(key.sign(claims(), kid=None)))


async def test_token_without_kid_is_rejected_when_the_set_has_several_keys(
    jwks_client: TestClient, published_keys: dict[str, SigningKey]
) -> None:
    token = published_keys["EdDSA"].sign(claims(), kid=None)
    assert_unauthorized(await get_tasks(jwks_client, token), "unknown key")


async def test_token_with_an_unknown_kid_is_rejected(
    jwks_client: TestClient, jwks_server: JWKSServer, clock: Clock
) -> None:
    clock.advance(REFETCH_SECONDS + 1)  # the refetch it causes finds no such key either
    for algorithm in PUBLIC_KEY_ALGORITHMS:
        stranger = make_key(algorithm)
        assert_unauthorized(await get_tasks(jwks_client, stranger.sign(claims())), "unknown key")
    assert jwks_server.requests == 2


@pytest.mark.parametrize("algorithm", PUBLIC_KEY_ALGORITHMS)
async def test_token_signed_by_another_key_under_a_published_kid_is_rejected(
    jwks_client: TestClient, published_keys: dict[str, SigningKey], algorithm: str
) -> None:
    impostor = make_key(algorithm)
    token = impostor.sign(claims(), kid=published_keys[algorithm].kid)
    assert_unauthorized(await get_tasks(jwks_client, token), "signature does not verify")


@pytest.mark.parametrize("claimed", ["ES256", "RS256"])
async def test_token_alg_must_match_the_key_of_its_kid(
    jwks_client: TestClient, published_keys: dict[str, SigningKey], claimed: str
) -> None:
    # An Ed25519 signature under the Ed25519 kid, but a header claiming another algorithm.
    key = published_keys["EdDSA"]
    private = key.private
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    token = hand_made({"alg": claimed, "typ": "JWT", "kid": key.kid}, claims(), private.sign)
    assert_unauthorized(await get_tasks(jwks_client, token), "malformed")
    honest = hand_made({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}, claims(), private.sign)
    await assert_accepted(jwks_client, with_token(honest))


async def test_expired_and_foreign_user_jwks_tokens_are_refused(
    jwks_client: TestClient, published_keys: dict[str, SigningKey]
) -> None:
    key = published_keys["ES256"]
    assert_unauthorized(await get_tasks(jwks_client, key.sign(claims(ttl=-120))), "expired")
    assert_unauthorized(await get_tasks(jwks_client, key.sign(without(claims(), "sub"))), "'sub'")
    response = await get_tasks(jwks_client, key.sign(claims("alice")), user="bob")
    assert response.status_code == 403, response.text


def confusion_tokens(key: SigningKey) -> dict[str, str]:
    """HS256 tokens an attacker could make from what is public, each naming ``key``'s kid."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    jwk_json = json.dumps(key.jwk).encode()
    return {
        "shared-secret": jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": key.kid}),
        "public-pem": hand_made(header, claims(), hmac_sha256(key.public_pem)),
        "public-jwk-json": hand_made(header, claims(), hmac_sha256(jwk_json)),
        "public-jwk-compact-json": hand_made(
            header, claims(), hmac_sha256(json.dumps(key.jwk, separators=(",", ":")).encode())
        ),
        "hs512-public-pem": hand_made(
            {**header, "alg": "HS512"}, claims(), lambda data: hmac.new(key.public_pem, data, hashlib.sha512).digest()
        ),
        "alg-none": hand_made({"alg": "none", "typ": "JWT", "kid": key.kid}, claims()),
    }


@pytest.mark.parametrize("algorithm", PUBLIC_KEY_ALGORITHMS)
async def test_hmac_token_is_rejected_when_only_jwks_is_configured(
    jwks_client: TestClient, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], algorithm: str
) -> None:
    for name, token in confusion_tokens(published_keys[algorithm]).items():
        response = await get_tasks(jwks_client, token)
        assert response.status_code == 401, name
        assert_unauthorized(response, "algorithm is not accepted")
    assert jwks_server.requests == 1  # a rejected algorithm does not even reach the key server


async def test_hs256_and_jwks_configured_together_accept_both(
    migrated: str, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], clock: Clock
) -> None:
    jwks_server.publish(*published_keys.values())
    async with serve(migrated, **jwks_settings(jwks_server, secret=SECRET)) as client:
        await assert_accepted(client, with_token(hs256(claims())))
        await assert_accepted(client, bearer(USER))
        for key in published_keys.values():
            await assert_accepted(client, with_token(key.sign(claims())))
        # The public key is no HMAC secret: an HS256 token is checked against BETTER_AUTH_SECRET only.
        rsa_key = published_keys["RS256"]
        confused = confusion_tokens(rsa_key)
        assert_unauthorized(await get_tasks(client, confused["public-pem"]), "signature does not verify")
        assert_unauthorized(await get_tasks(client, confused["public-jwk-json"]), "signature does not verify")
        assert_unauthorized(await get_tasks(client, confused["alg-none"]), "algorithm is not accepted")
        assert_unauthorized(await get_tasks(client, hs256(claims(), secret="x" * 40)), "signature does not verify")


# --- key rotation and the refetch limit ---------------------------------------------------------


async def test_new_kid_on_the_server_is_fetched_on_first_use(
    jwks_client: TestClient, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], clock: Clock
) -> None:
    rotated = make_key("EdDSA")
    jwks_server.publish(rotated, *published_keys.values())
    clock.advance(REFETCH_SECONDS + 1)
    await assert_accepted(jwks_client, with_token(rotated.sign(claims())))
    assert jwks_server.requests == 2
    # Both the new key and the old ones are now served from the cache.
    await assert_accepted(jwks_client, with_token(rotated.sign(claims())))
    await assert_accepted(jwks_client, with_token(published_keys["RS256"].sign(claims())))
    assert jwks_server.requests == 2


async def test_unknown_kids_refetch_at_most_once_per_window(
    jwks_client: TestClient, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], clock: Clock
) -> None:
    stranger = make_key("EdDSA")

    async def burst() -> None:
        tokens = [stranger.sign(claims(), kid=f"made-up-{uuid.uuid4().hex}") for _ in range(50)]
        responses = await asyncio.gather(*(get_tasks(jwks_client, token) for token in tokens))
        for response in responses:
            assert_unauthorized(response, "unknown key")

    # Within the window of the start-up fetch, made-up kids cause no fetch at all.
    await burst()
    assert jwks_server.requests == 1
    # Once the window has passed, 50 concurrent made-up kids cause exactly one.
    clock.advance(REFETCH_SECONDS + 1)
    await burst()
    assert jwks_server.requests == 2
    await burst()
    assert jwks_server.requests == 2
    # A key published within the window is refused until the window has passed (the next fetch could not start
    # within JWKS_TIMEOUT_SECONDS)...
    rotated = make_key("ES256")
    jwks_server.publish(rotated, *published_keys.values())
    assert_unauthorized(await get_tasks(jwks_client, rotated.sign(claims())), "unknown key")
    assert jwks_server.requests == 2
    # ...while known keys keep working all along, without fetching.
    await assert_accepted(jwks_client, with_token(published_keys["EdDSA"].sign(claims())))
    assert jwks_server.requests == 2
    clock.advance(REFETCH_SECONDS + 1)
    await assert_accepted(jwks_client, with_token(rotated.sign(claims())))
    assert jwks_server.requests == 3


async def test_expired_cache_is_refreshed_in_background_and_drops_withdrawn_keys(
    migrated: str, jwks_server: JWKSServer, clock: Clock
) -> None:
    old, new = make_key("EdDSA"), make_key("EdDSA")
    jwks_server.publish(old, new)
    async with serve(migrated, **jwks_settings(jwks_server), jwks_cache_seconds=600.0) as client:
        jwks_server.publish(new)  # the key server withdraws the old key
        await assert_accepted(client, with_token(old.sign(claims())))  # still cached
        assert jwks_server.requests == 1
        clock.advance(601)
        # The first request after expiry is still served from the cache, and starts a refresh.
        response = await get_tasks(client, old.sign(claims()))
        assert response.status_code == 200, response.text
        for _ in range(200):
            response = await get_tasks(client, old.sign(claims()))
            if response.status_code == 401:
                break
            await asyncio.sleep(0.01)
        assert_unauthorized(response, "unknown key")
        assert jwks_server.requests == 2
        await assert_accepted(client, with_token(new.sign(claims())))


# --- a key server that misbehaves ---------------------------------------------------------------

ROTATED = make_key("EdDSA")  # the key the server publishes once it works again
GARBAGE = {
    "not-json": (200, b"<html><body>Bad gateway</body></html>"),
    "json-list": (200, json.dumps([ROTATED.jwk]).encode()),  # holds a good key, but is no JWKS document
    "json-string": (200, b'"keys"'),
    "server-error": (500, b'{"error": "internal"}'),
    "not-found": (404, b""),
    "no-keys-member": (200, b"{}"),
    "empty-key-list": (200, b'{"keys": []}'),
    "keys-not-a-list": (200, b'{"keys": {"kty": "OKP"}}'),
    "unusable-keys": (200, b'{"keys": ["x", 1, null, {"kty": "nope"}, {"kty": "OKP", "crv": "Ed25519", "x": "!"}]}'),
    "truncated": (200, b'{"keys": [{"kty": "OKP", '),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_from_the_key_server_keeps_the_cached_keys(
    jwks_client: TestClient,
    jwks_server: JWKSServer,
    published_keys: dict[str, SigningKey],
    clock: Clock,
    garbage: tuple[int, bytes],
) -> None:
    jwks_server.serve_raw(*garbage)
    clock.advance(REFETCH_SECONDS + 1)
    assert_unauthorized(await get_tasks(jwks_client, ROTATED.sign(claims())), "unknown key")
    assert jwks_server.requests == 2  # the garbage was fetched...
    for key in published_keys.values():  # ...and the keys fetched before still work
        await assert_accepted(jwks_client, with_token(key.sign(claims())))
    # Once the server recovers, the next window brings the new key.
    jwks_server.publish(ROTATED, *published_keys.values())
    clock.advance(REFETCH_SECONDS + 1)
    await assert_accepted(jwks_client, with_token(ROTATED.sign(claims())))
    assert jwks_server.requests == 3


async def test_key_server_down_keeps_the_cached_keys(
    jwks_client: TestClient, jwks_server: JWKSServer, published_keys: dict[str, SigningKey], clock: Clock
) -> None:
    jwks_server.stop()
    await assert_accepted(jwks_client, with_token(published_keys["EdDSA"].sign(claims())))
    clock.advance(REFETCH_SECONDS + 1)
    assert_unauthorized(await get_tasks(jwks_client, make_key("EdDSA").sign(claims())), "unknown key")
    for key in published_keys.values():
        await assert_accepted(jwks_client, with_token(key.sign(claims())))


async def test_key_server_failing_at_start_up_is_retried_on_demand(
    migrated: str, jwks_server: JWKSServer, clock: Clock
) -> None:
    key = make_key("RS256")
    jwks_server.serve_raw(503, b"starting")
    async with serve(migrated, **jwks_settings(jwks_server)) as client:  # starts anyway
        assert jwks_server.requests == 1
        assert_unauthorized(await get_tasks(client, key.sign(claims())), "unknown key")
        jwks_server.publish(key)
        clock.advance(REFETCH_SECONDS + 1)
        await assert_accepted(client, with_token(key.sign(claims())))
        assert jwks_server.requests == 2


async def test_unreachable_key_server_at_start_up_only_refuses_tokens(migrated: str, clock: Clock) -> None:
    down = JWKSServer()
    down.stop()  # nothing listens on its port any more
    async with serve(migrated, **jwks_settings(down)) as client:
        assert_unauthorized(await get_tasks(client, make_key("EdDSA").sign(claims())), "unknown key")
        clock.advance(REFETCH_SECONDS + 1)
        assert_unauthorized(await get_tasks(client, make_key("EdDSA").sign(claims())), "unknown key")
        assert (await client.get("/health")).status_code == 200


# --- the cache of verified tokens ------------------------------------------------------------


async def test_a_remembered_token_still_expires_on_time(migrated: str) -> None:
    async with serve(migrated, jwt_leeway_seconds=0) as client:
        expires_at = int(time.time()) + 4  # room for two requests on a busy machine
        headers = {"Authorization": f"Bearer {hs256({'sub': 'alice', 'exp': expires_at})}"}
        assert (await client.get("/api/alice/tasks", headers=headers)).status_code == 200
        assert (await client.get("/api/alice/tasks", headers=headers)).status_code == 200  # from the cache
        await asyncio.sleep(expires_at - time.time() + 0.1)
        response = await client.get("/api/alice/tasks", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"] == "token has expired"


async def test_a_remembered_token_is_still_checked_against_the_path(client: TestClient) -> None:
    assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200
    assert (await client.get("/api/bob/tasks", headers=ALICE)).status_code == 403


async def test_the_cache_of_verified_tokens_is_bounded(migrated: str) -> None:
    verifier = auth.TokenVerifier(make_settings(migrated), jwks=None)
    exp = int(time.time()) + 600
    for n in range(auth.MAX_CACHED_TOKENS + 50):
        assert await verifier.verify(hs256({"sub": f"user-{n}", "exp": exp})) == f"user-{n}"
    assert verifier.cached_tokens == auth.MAX_CACHED_TOKENS


async def test_a_rejected_token_is_not_remembered(migrated: str) -> None:
    verifier = auth.TokenVerifier(make_settings(migrated), jwks=None)
    forged = hs256({"sub": "alice", "exp": int(time.time()) + 600}, secret="another-secret-of-at-least-32-bytes!!")
    for _ in range(2):
        with pytest.raises(NotAuthorizedException):
            await verifier.verify(forged)
    assert verifier.cached_tokens == 0
