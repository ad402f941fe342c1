"""Every layer an HTTP request passes, outermost first. Each is one line where it is composed:
server_options, outer_layers, BEFORE_SEND and route_middleware below; Litestar's own CORS,
exception handling, routing and the StrictInput plugin are its configuration in service.app.create_app.

    uvicorn                  server_options()
      LimitedHttpToolsProtocol     414, 431 for an oversized request head, before any ASGI
      ProxyHeadersMiddleware       the client's address from X-Forwarded-For, if FORWARDED_ALLOW_IPS trusts the peer
    in front of Litestar     outer_layers(): plain ASGI, so they see every request, also one that
                             matches no route (404, 405) or is refused before its handler runs
      RequestIdMiddleware          X-Request-ID, and the id in every log line and problem body
      ObserveRequests              the access line and the request metrics, with the status the client got
      BodyDeadline                 408 when a body does not arrive within BODY_TIMEOUT_SECONDS
    Litestar                 configured in service.app.create_app, in Litestar's own order
      before_send                  BEFORE_SEND: OPTIONS names every method of its path
      CORS                         cors_config
      exception handlers           problem details (service.http.problems)
      router                       404, 405; then the route's own stack:
    route middleware         route_middleware(): Litestar middleware, for requests that matched a route
      BearerAuthMiddleware         401, 403; the token's subject in scope["user"]
      RateLimitMiddleware          429, and RateLimit-* headers on every authenticated answer
      IdempotencyMiddleware        a write with an Idempotency-Key: runs once, in one transaction with the record
                                   of its answer, which a repeat gets again; 400, 409, 422 (service.idempotency)
    before_request           the StrictInput plugin (service.http.strict_input): 400 for a query parameter
                             the handler does not read as given, 415 and 400 for a body that is not JSON or missing
    the route handler        its body read within MAX_BODY_BYTES (413), decoded once, strictly, by its Struct

A new layer goes in one of those lists and in this table; nothing else composes the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.types import (
    ASGIApp,
    BeforeMessageSendHookHandler,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Middleware,
    Receive,
    Scope,
    Send,
)

from service.config import Settings
from service.http.allow import allow_every_method
from service.http.auth import BearerAuthMiddleware, TokenVerifier
from service.http.body_deadline import BodyDeadline
from service.http.head_limits import LimitedHttpToolsProtocol
from service.http.rate_limit import Limiter, RateLimitMiddleware
from service.idempotency.middleware import IdempotencyMiddleware
from service.observability.access import ObserveRequests
from service.observability.metrics import Metrics
from service.observability.request_id import RequestIdMiddleware

Layer = Callable[[ASGIApp], ASGIApp]


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's part, as ``uvicorn.run`` options."""
    return {
        "http": LimitedHttpToolsProtocol,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,  # no banner naming the software
        "access_log": False,  # the access line is ObserveRequests'
    }


def outer_layers(settings: Settings, metrics: Metrics) -> list[Layer]:
    """The plain ASGI layers in front of Litestar, outermost first."""
    measured = metrics if settings.metrics_enabled else None
    return [
        RequestIdMiddleware,
        partial(ObserveRequests, log=settings.access_log, metrics=measured, user_key=settings.log_user_key),
        partial(BodyDeadline, seconds=settings.body_timeout_seconds),
    ]


BEFORE_SEND: tuple[BeforeMessageSendHookHandler, ...] = (allow_every_method,)


def route_middleware(verifier: TokenVerifier, limiter: Limiter | None) -> list[Middleware]:
    """Litestar's middleware, outermost first; without a limiter (RATE_LIMIT_PER_MINUTE=0) no rate limit."""
    return [
        # The OpenAPI routes are open; /health and / say exclude_from_auth; a preflight has no token.
        DefineMiddleware(BearerAuthMiddleware, verifier=verifier, exclude=["^/docs"], exclude_http_methods=["OPTIONS"]),
        *([RateLimitMiddleware(limiter)] if limiter is not None else []),
        IdempotencyMiddleware,
    ]


class LayeredLitestar(Litestar):
    """A Litestar app that, called as an ASGI app, runs its outer layers first.

    Litestar's own middleware runs only for a request that matched a route; what must see every
    request wraps the app from outside, as any ASGI middleware wraps any ASGI app. The outermost
    layer is made once, in :meth:`put_behind`, so a request costs no more than the layers' calls.
    """

    __slots__ = ("_outermost",)

    def put_behind(self, layers: Sequence[Layer]) -> None:
        """Put ``layers`` (outermost first) in front of this app."""
        app: ASGIApp = super().__call__
        for layer in reversed(layers):
            app = layer(app)
        self._outermost = app

    async def __call__(
        self, scope: Scope | LifeSpanScope, receive: Receive | LifeSpanReceive, send: Send | LifeSpanSend
    ) -> None:
        # Typed for HTTP scopes, each layer hands a lifespan scope on untouched, to Litestar.
        await self._outermost(scope, receive, send)  # type: ignore[arg-type]
