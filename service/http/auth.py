"""Bearer-token authentication for Better Auth JWTs: HS256 with a shared secret, or keys from a JWKS URL."""

from __future__ import annotations

import asyncio
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

    Keys are refreshed in the background once they are ``cache_seconds`` old; a token with an
    unknown ``kid`` triggers a fetch, but never more than one per ``min_refetch_seconds``, so a
    stream of made-up ``kid``s cannot make us hammer the key server. A failed fetch keeps the
    keys we have. A fetch takes at most the client's (read) timeout, JWKS_TIMEOUT_SECONDS, in all:
    httpx's timeouts bound each read, so a key server sending a byte now and then would otherwise
    hold every request that waits for it.
    """

    def __init__(self, url: str, client: httpx.AsyncClient, *, cache_seconds: float, min_refetch_seconds: float):
        self.url = url
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        now = time.monotonic()
        if now - self._fetched_at > self._cache_seconds and self._keys:
            self._refresh_in_background()
        key = self._keys.get(kid)
        if key is None:
            await self.refresh()
            key = self._keys.get(kid)
        return key

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self.refresh())

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._attempted_at < self._min_refetch_seconds:
                return
            self._attempted_at = time.monotonic()
            try:
                async with asyncio.timeout(self._client.timeout.read):
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
            self._fetched_at = time.monotonic()
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
        self._issuer = settings.jwt_issuer or None
        self._audience = settings.jwt_audience or None
        self._leeway = settings.jwt_leeway_seconds
        self._options: Any = {"require": ["exp", "sub"], "verify_aud": self._audience is not None}
        self._verified: dict[str, tuple[str, float]] = {}  # token -> (subject, valid until)

    @property
    def cached_tokens(self) -> int:
        return len(self._verified)

    async def _key(self, header: dict[str, Any]) -> tuple[str, Any]:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):  # a list or an object is no algorithm, and not hashable either
            raise unauthorized("token algorithm is not accepted")
        if algorithm == HMAC_ALGORITHM and self._secret:
            return algorithm, self._secret
        if algorithm in PUBLIC_KEY_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            key = await self._jwks.key(kid if isinstance(kid, str) else None)
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

    async def _verify(self, token: str) -> tuple[str, float]:
        if len(token) > MAX_TOKEN_BYTES:
            raise unauthorized("token is too large")
        try:
            algorithm, key = await self._key(jwt.get_unverified_header(token))
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options=self._options,
            )
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
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise unauthorized("token subject is empty")
        if len(subject) > MAX_SUBJECT_LENGTH or "\x00" in subject:
            raise unauthorized("token subject is not a valid user id")
        return subject, float(claims["exp"])


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
    """An HS256 token as Better Auth would sign it, for development and load tests."""
    if not settings.better_auth_secret:
        raise ValueError("BETTER_AUTH_SECRET is not set: there is no secret to sign with")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.better_auth_secret, algorithm=HMAC_ALGORITHM)
