"""Per-user rate limiting: the generic cell rate algorithm (GCRA), one number per user.

A user may send ``burst`` requests at once, then one every ``60 / per_minute`` seconds. The only
state is the user's "theoretical arrival time" (TAT): when their bucket would be empty again.
Litestar's own limiter keeps every request time of the window per client and re-encodes the
list on each request; a single float is O(1) whatever the limit.

The default store is this process's memory: with several instances (or WORKERS > 1) each
counts on its own, so a user gets up to that many times the limit. RATE_LIMIT_STORE_URL=redis://...
shares the count through Litestar's RedisStore instead.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, NamedTuple

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.stores.base import Store
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings

if TYPE_CHECKING:
    from litestar.stores.redis import RedisStore


class Decision(NamedTuple):
    allowed: bool
    remaining: int  # requests the user may still send at once
    reset: float  # seconds until the bucket is full again
    retry_after: float  # when refused: seconds until one request will be allowed


class Policy:
    def __init__(self, per_minute: int, burst: int):
        self.per_minute = per_minute
        self.burst = burst
        self.interval = 60.0 / per_minute
        self.window = burst * self.interval  # how long a full burst takes to refill
        # The headers every answer carries alike, encoded once for the allowed path.
        self.constant_headers = (
            (b"ratelimit-policy", f"{burst};w={math.ceil(self.window)}".encode()),
            (b"ratelimit-limit", str(burst).encode()),
        )

    def decide(self, tat: float | None, now: float) -> tuple[Decision, float]:
        """The decision for a request at ``now``, and the user's TAT afterwards."""
        tat = now if tat is None or tat < now else tat
        new_tat = tat + self.interval
        allowed_from = new_tat - self.window
        if now < allowed_from:
            backlog = tat - now
            return Decision(False, 0, backlog, allowed_from - now), tat
        backlog = new_tat - now
        remaining = int((self.window - backlog) / self.interval + 1e-9)
        return Decision(True, remaining, backlog, 0.0), new_tat

    def headers(self, decision: Decision) -> dict[str, str]:
        headers = {
            "RateLimit-Policy": f"{self.burst};w={math.ceil(self.window)}",
            "RateLimit-Limit": str(self.burst),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(math.ceil(decision.reset)),
        }
        if not decision.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
        return headers


class MemoryLimiter:
    """This process's users and their TATs; no await between read and write, so no race."""

    MAX_USERS = 100_000  # then users whose buckets are full again are forgotten

    def __init__(self, policy: Policy):
        self.policy = policy
        self._tats: dict[str, float] = {}

    async def take(self, user: str, now: float) -> Decision:
        decision, self._tats[user] = self.policy.decide(self._tats.get(user), now)
        if len(self._tats) > self.MAX_USERS:
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        return decision

    async def close(self) -> None:
        """Nothing to release: the count lives and dies with the process."""


class StoreLimiter:
    """TATs in a Litestar store shared by every instance (RedisStore).

    Read and write are two round trips, so two instances serving one user in the same instant
    can both admit a request: the limit holds to within the number of instances.
    """

    def __init__(self, policy: Policy, store: Store):
        self.policy = policy
        self.store = store

    async def take(self, user: str, now: float) -> Decision:
        stored = await self.store.get(user)
        decision, tat = self.policy.decide(float(stored) if stored else None, now)
        if decision.allowed:
            await self.store.set(user, repr(tat), expires_in=math.ceil(tat - now) + 1)
        return decision

    async def close(self) -> None:
        """Close the store's client (a store is an async context manager; leaving it closes)."""
        await self.store.__aexit__(None, None, None)


Limiter = MemoryLimiter | StoreLimiter


def limiter(settings: Settings) -> Limiter | None:
    """The limiter the settings ask for, or None when RATE_LIMIT_PER_MINUTE is 0."""
    if not settings.rate_limit_per_minute:
        return None
    policy = Policy(settings.rate_limit_per_minute, settings.rate_limit_burst)
    if not settings.rate_limit_store_url:
        return MemoryLimiter(policy)
    store = _redis_store().with_client(url=settings.rate_limit_store_url, namespace="task-api-rate")
    return StoreLimiter(policy, store)


def require_store_client(settings: Settings) -> None:
    """Raise ValueError when the settings share the count through a store whose client is missing."""
    if settings.rate_limit_per_minute and settings.rate_limit_store_url:
        _redis_store()


def _redis_store() -> type[RedisStore]:
    try:
        from litestar.stores.redis import RedisStore
    except ImportError as exc:  # the redis client is an optional extra
        raise ValueError("RATE_LIMIT_STORE_URL needs the redis client: pip install 'task-api[redis]'") from exc
    return RedisStore


class RateLimitMiddleware(ASGIMiddleware):
    """429 with Retry-After once an authenticated user exceeds the policy; RateLimit headers on every answer.

    Sits after the authentication middleware: requests without a user (health, docs) pass.
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        user = scope.get("user")
        if not isinstance(user, str):
            await next_app(scope, receive, send)
            return
        decision = await self.limiter.take(user, time.time())
        if not decision.allowed:
            headers = self.limiter.policy.headers(decision)
            raise TooManyRequestsException(
                detail=f"too many requests: at most {self.limiter.policy.per_minute} a minute, "
                f"{self.limiter.policy.burst} at once; retry after {headers['Retry-After']} s",
                headers=headers,
            )
        encoded = [
            *self.limiter.policy.constant_headers,
            (b"ratelimit-remaining", str(decision.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(decision.reset)).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *encoded]
            await send(message)

        await next_app(scope, receive, send_with_headers)
