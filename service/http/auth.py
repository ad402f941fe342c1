"""Bearer-token authentication: JWTs signed with the keys a JWKS URL publishes, or HS256 with a shared secret.

Better Auth's JWT plugin signs with its own key pairs (EdDSA by default) and publishes them at
``/api/auth/jwks``: that is the JWKS path. HS256 with BETTER_AUTH_SECRET serves other issuers,
development and ``make token``; Better Auth itself never signs HS256 access tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from service.config import Settings

log = logging.getLogger(__name__)

HMAC_ALGORITHM = "HS256"
PUBLIC_KEY_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
MAX_TOKEN_BYTES = 8192
MAX_SUBJECT_LENGTH = 255
MAX_CACHED_TOKENS = 4096


def unauthorized(detail: str, *, error: str | None = "invalid_token") -> NotAuthorizedException:
    """A 401 whose ``WWW-Authenticate`` follows RFC 6750 (no error code when no token was sent)."""
    challenge = 'Bearer realm="task-api"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": challenge})


class JWKSCache:
    """Public keys from a JWKS URL, fetched without blocking the event loop.

    A key server publishes a new key only once it signs with it (Better Auth does, when it
    rotates), so the first token bearing it always arrives with an unknown ``kid``. Such a token
    waits for the next fetch that starts after it arrived, and many share one fetch. Fetches,
    whatever causes them, start at least ``min_refetch_seconds`` apart: a stream of made-up
    ``kid``s costs the key server one request per interval, and delays a real new key by at most
    that interval. A token waits JWKS_TIMEOUT_SECONDS at most in all (the client's read timeout);
    when the next fetch cannot even start within that, it is refused at once and no fetch is made.

    Keys are also refreshed in the background ``cache_seconds`` after the last fetch, whether it
    succeeded or not (a key server that is down is not asked again at every request). A failed
    fetch keeps the keys we have. A fetch takes at most JWKS_TIMEOUT_SECONDS in all: httpx's timeouts
    bound each read, so a key server sending a byte now and then would otherwise hold every
    request that waits for it.
    """

    def __init__(self, url: str, client: httpx.AsyncClient, *, cache_seconds: float, min_refetch_seconds: float):
        self.url = url
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        if client.timeout.read is None:
            raise ValueError("the JWKS client needs a read timeout: it bounds every wait for the key server")
        self._timeout = client.timeout.read
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._started_at = float("-inf")  # when the latest fetch sent its request
        self._next: asyncio.Task[None] | None = None  # a fetch waiting for its turn, which late comers join
        self._turn = asyncio.Lock()  # one fetch at a time, from waiting for its turn to its answer
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def cached(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid`` if we have it, without waiting; keys due a refresh get one in the background."""
        if self._keys and time.monotonic() - self._started_at > self._cache_seconds:
            self._next_fetch()
        return self._keys.get(kid)

    async def refetch(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid`` after the next fetch that starts from now, or None if it cannot start in time."""
        wait_for_turn = self._started_at + self._min_refetch_seconds - time.monotonic()
        if wait_for_turn < self._timeout:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await asyncio.shield(self._next_fetch())  # a waiter that gives up leaves the fetch to others
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the keys (at start-up), as soon as the interval since the last fetch allows."""
        await asyncio.shield(self._next_fetch())

    def _next_fetch(self) -> asyncio.Task[None]:
        """The fetch that has not sent its request yet: the one already waiting for its turn, or a new one."""
        if self._next is None:
            self._next = asyncio.create_task(self._fetch_in_turn())
            self._tasks.add(self._next)
            self._next.add_done_callback(self._tasks.discard)
        return self._next

    async def _fetch_in_turn(self) -> None:
        async with self._turn:
            await asyncio.sleep(max(0.0, self._started_at + self._min_refetch_seconds - time.monotonic()))
            self._next = None  # from here on, a newcomer needs the fetch after this one
            self._started_at = time.monotonic()
            await self._fetch()

    async def _fetch(self) -> None:
        if self._client.is_closed:  # the app has stopped
            return
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.get(self.url)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("JWKS document is not a JSON object")
            key_set = jwt.PyJWKSet.from_dict(document)
        except (httpx.HTTPError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
            log.warning("JWKS fetch from %s failed, keeping %d cached keys: %r", self.url, len(self._keys), exc)
            return
        keys = {key.key_id: key for key in key_set.keys if key.algorithm_name in PUBLIC_KEY_ALGORITHMS}
        usable = len(keys)
        if usable == 1:
            # A token without a kid may use the only key there is.
            keys[None] = next(iter(keys.values()))
        self._keys = keys
        log.info("JWKS from %s: %d usable keys of %d", self.url, usable, len(key_set.keys))


class TokenVerifier:
    """Checks a bearer token and returns its subject, the user id.

    A token that verified is remembered, by its exact text, until its ``exp`` (plus leeway):
    a client sends the same token with every request, and a signature check, base64 and
    JSON decoding are the costliest part of a request otherwise. Nothing else about a token
    changes with time, so the answer is the same. The cache holds at most MAX_CACHED_TOKENS,
    dropping the oldest first.
    """

    def __init__(self, settings: Settings, jwks: JWKSCache | None):
        self._secret = settings.better_auth_secret
        self._jwks = jwks
        self._leeway = settings.jwt_leeway_seconds
        audience = settings.jwt_audience or None
        self._claim_checks: Any = {"issuer": settings.jwt_issuer or None, "audience": audience, "leeway": self._leeway}
        self._options: Any = {"require": ["exp", "sub"], "verify_aud": audience is not None}
        # The same checks on the claims, read without the signature (PyJWT then checks only what is named).
        self._face_options: Any = {
            **self._options,
            **dict.fromkeys(["verify_exp", "verify_nbf", "verify_iat", "verify_iss", "verify_sub"], True),
            "verify_signature": False,
        }
        self._verified: dict[str, tuple[str, float]] = {}  # token -> (subject, valid until)

    @property
    def cached_tokens(self) -> int:
        return len(self._verified)

    async def _key(self, token: str, header: dict[str, Any]) -> tuple[str, Any]:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):  # a list or an object is no algorithm, and not hashable either
            raise unauthorized("token algorithm is not accepted")
        if algorithm == HMAC_ALGORITHM and self._secret:
            return algorithm, self._secret
        if algorithm in PUBLIC_KEY_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            kid = kid if isinstance(kid, str) else None
            key = self._jwks.cached(kid)
            if key is None:
                # Only a token that would be accepted with the right key may wait for the key server, or
                # make us ask it: an expired one, or one for another issuer, is refused here.
                subject_of(jwt.decode(token, options=self._face_options, **self._claim_checks))
                key = await self._jwks.refetch(kid)
            if key is None:
                raise unauthorized("token signed with an unknown key")
            return algorithm, key
        raise unauthorized("token algorithm is not accepted")

    async def verify(self, token: str) -> str:
        remembered = self._verified.get(token)
        if remembered is not None:
            subject, valid_until = remembered
            if time.time() < valid_until:
                return subject
            del self._verified[token]
        subject, expires_at = await self._verify(token)
        if len(self._verified) >= MAX_CACHED_TOKENS:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (subject, expires_at + self._leeway)
        return subject

    async def valid_until(self, token: str) -> float:
        """When a token that verifies stops being accepted (its ``exp`` plus the leeway), in seconds
        since the epoch: what a long-lived answer (an event stream) holds it to."""
        await self.verify(token)
        return self._verified[token][1]

    async def _verify(self, token: str) -> tuple[str, float]:
        if len(token) > MAX_TOKEN_BYTES:
            raise unauthorized("token is too large")
        try:
            algorithm, key = await self._key(token, jwt.get_unverified_header(token))
            claims = jwt.decode(token, key, algorithms=[algorithm], options=self._options, **self._claim_checks)
        except jwt.ExpiredSignatureError:
            raise unauthorized("token has expired") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("token issuer is not accepted") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("token audience is not accepted") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("token signature does not verify") from None
        except jwt.PyJWTError:
            raise unauthorized("token is malformed") from None
        return subject_of(claims), float(claims["exp"])


def subject_of(claims: dict[str, Any]) -> str:
    """The user id in ``sub``, which must be a usable one."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise unauthorized("token subject is empty")
    if len(subject) > MAX_SUBJECT_LENGTH or "\x00" in subject:
        raise unauthorized("token subject is not a valid user id")
    return subject


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts the token's subject in ``request.user``; every error is a 401 with a Bearer challenge.

    A route with a ``{user_id}`` is also authorized here: the token's subject must be that user
    (403 otherwise). Doing it here rather than in a guard saves Litestar's per-guard copy of the
    route handler on every request.
    """

    def __init__(self, app: Any, *, verifier: TokenVerifier, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.verifier = verifier

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise unauthorized("missing bearer token", error=None)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            # Another scheme (Basic, ...) sends no bearer token at all: RFC 6750 gives no error code then.
            raise unauthorized("Authorization header must be 'Bearer <token>'", error=None)
        if not token:
            raise unauthorized("Authorization header must be 'Bearer <token>'", error="invalid_request")
        user_id = await self.verifier.verify(token)
        path_user_id = connection.scope["path_params"].get("user_id")
        if path_user_id is not None and path_user_id != user_id:
            raise PermissionDeniedException(detail="the token does not grant access to this user's tasks")
        return AuthenticationResult(user=user_id, auth=token)


def issue_token(settings: Settings, user_id: str, *, ttl_seconds: int = 900) -> str:
    """An HS256 token signed with BETTER_AUTH_SECRET, for development, load tests and ``make token``.

    Its claims are those of Better Auth's tokens (``sub``, ``iat``, ``exp``, and ``iss``/``aud`` when
    configured), but not its signature: Better Auth signs with the keys its JWKS publishes.
    """
    if not settings.better_auth_secret:
        raise ValueError("BETTER_AUTH_SECRET is not set: there is no secret to sign with")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.better_auth_secret, algorithm=HMAC_ALGORITHM)
