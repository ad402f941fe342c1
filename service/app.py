"""The application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect

from service.config import Settings, load_settings
from service.db import migrations
from service.db import pool as database
from service.db.pool import Database
from service.health.controller import HealthController
from service.http import rate_limit
from service.http.allow import allow_every_method
from service.http.auth import BearerAuthMiddleware, JWKSCache, TokenVerifier
from service.http.body_deadline import BodyDeadline
from service.http.openapi import say_what_is_enforced
from service.http.problems import exception_handlers, problem_details
from service.http.rate_limit import RateLimitMiddleware
from service.http.strict_input import StrictInput
from service.observability import metrics
from service.observability.access import ObserveRequests
from service.observability.request_id import RequestIdMiddleware
from service.tags.controller import TagController
from service.tasks import openapi as tasks_openapi
from service.tasks.controller import TaskController

log = logging.getLogger(__name__)

GC_GENERATION0_THRESHOLD = 20_000  # Python's default is 700 (2,000 from 3.13)

API_DESCRIPTION = """\
Per-user tasks for the web app. Every `/api/...` call needs `Authorization: Bearer <JWT>`,
a token issued by Better Auth whose `sub` is the `{user_id}` in the path.
Press **Authorize**, paste a token (`make token USER=alice` prints one), and try any call.
Errors are RFC 9457 problem details (`application/problem+json`).
"""


def calm_the_garbage_collector() -> None:
    """Keep collections off the request path's tail.

    Everything alive after start-up (modules, the app, the pool) lives as long as the process:
    freezing it spares every full collection from scanning it again. A request allocates a few
    hundred short-lived objects; a higher first-generation threshold collects them in fewer,
    not larger, pauses.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GENERATION0_THRESHOLD, *gc.get_threshold()[1:])


def provide_db(state: State) -> Database:
    db: Database = state.db
    return db


@get("/", include_in_schema=False, exclude_from_auth=True)
async def root() -> Redirect:
    return Redirect(path="/docs")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    if not settings.better_auth_secret and not settings.jwt_jwks_url:
        raise ValueError("set BETTER_AUTH_SECRET or JWT_JWKS_URL: without either no token can be verified")
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    http = httpx.AsyncClient(timeout=settings.jwks_timeout_seconds)
    jwks = None
    if settings.jwt_jwks_url:
        jwks = JWKSCache(
            settings.jwt_jwks_url,
            http,
            cache_seconds=settings.jwks_cache_seconds,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
        )

    optional_routes = [metrics.MetricsController] if settings.metrics_enabled else []
    limiter = rate_limit.limiter(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await database.create_pool(settings)
        app.state.db = Database(pool, acquire_timeout=settings.db_pool_acquire_timeout)
        app.state.migration_ids = migrations.migration_ids()
        app.state.max_tasks_per_user = settings.max_tasks_per_user
        metrics.pools.databases.append(app.state.db)
        if jwks is not None:
            await jwks.refresh()  # warm the cache; a failure here is logged and retried on demand
        calm_the_garbage_collector()
        try:
            yield
        finally:
            metrics.pools.databases.remove(app.state.db)
            await http.aclose()
            await pool.close()

    app = Litestar(
        route_handlers=[TaskController, TagController, HealthController, root, *optional_routes],
        lifespan=[lifespan],
        dependencies={"db": Provide(provide_db, sync_to_thread=False, use_cache=True)},
        middleware=[
            DefineMiddleware(
                BearerAuthMiddleware,
                verifier=TokenVerifier(settings, jwks),
                exclude=["^/docs"],  # the OpenAPI routes; /health and / say exclude_from_auth
                exclude_http_methods=["OPTIONS"],
            ),
            *([RateLimitMiddleware(limiter)] if limiter else []),
        ],
        plugins=[problem_details, StrictInput()],
        before_send=[allow_every_method],
        exception_handlers=exception_handlers,
        cors_config=CORSConfig(
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
            expose_headers=[
                "ETag",
                "Link",
                "Location",
                "Retry-After",
                "X-Request-ID",
                "RateLimit-Policy",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        ),
        openapi_config=OpenAPIConfig(
            title="Task API",
            version="1.0.0",
            description=API_DESCRIPTION,
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/")],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="A Better Auth JWT (HS256, or EdDSA/ES256/RS256 from the JWKS).",
                    )
                }
            ),
        ),
        request_max_body_size=settings.max_body_bytes,
        # Every body is JSON (or the docs page): a browser must not guess another type.
        response_headers=[ResponseHeader(name="X-Content-Type-Options", value="nosniff")],
        # The process configures logging (service.logs); the app only emits records.
        logging_config=None,
    )
    say_what_is_enforced(app, tasks_openapi.say_what_is_enforced)  # generated once here, then served as amended
    # Around Litestar's whole handler rather than as route middleware, so requests that match
    # no route (404, 405) and those refused before routing get an id and a log line too.
    app.asgi_handler = BodyDeadline(app.asgi_handler, seconds=settings.body_timeout_seconds)
    app.asgi_handler = ObserveRequests(
        app.asgi_handler, log=settings.access_log, measure=settings.metrics_enabled, user_key=settings.log_user_key
    )
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app
