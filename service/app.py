"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import httpx
from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from service import asgi
from service.account import openapi as account_openapi
from service.account.controller import AccountController, import_body_limit, import_route
from service.config import Settings, load_settings
from service.db import migrations
from service.db import pool as database
from service.db.pool import BOUND_DATABASE, Database
from service.events.controller import EventController
from service.events.live import EventsCollector, LiveEvents
from service.health.controller import HealthController
from service.http import rate_limit
from service.http.auth import JWKSCache, TokenVerifier
from service.http.openapi import say_what_is_enforced
from service.http.problems import exception_handlers, problem_details
from service.http.strict_input import StrictInput
from service.http.swagger import SelfHostedSwagger, docs_router
from service.idempotency import openapi as idempotency_openapi
from service.lists import openapi as lists_openapi
from service.lists.controller import ListController
from service.observability.metrics import Metrics, metrics_route
from service.reminders.controller import ReminderController
from service.sync import purge
from service.sync.controller import ChangesController
from service.tags.controller import TagController
from service.tasks import openapi as tasks_openapi
from service.tasks.controller import TaskController
from service.trash.controller import TrashController

log = logging.getLogger(__name__)

GC_GENERATION0_THRESHOLD = 20_000  # Python's default is 700 (2,000 from 3.13)

API_DESCRIPTION = """\
Per-user tasks for the web app. Every `/api/...` call needs `Authorization: Bearer <JWT>`,
a JWT whose `sub` is the `{user_id}` in the path: from the web app's Better Auth
(`authClient.token()`), or in development `make token USER=alice`.
Press **Authorize**, paste a token, and try any call.
Errors are RFC 9457 problem details (`application/problem+json`).
Every write takes an optional `Idempotency-Key` header, which makes retrying it safe.
"""

BEARER_SCHEME_DESCRIPTION = (
    "A JWT from the web app's Better Auth JWT plugin (EdDSA by default; ES256 and RS256 too), "
    "checked against the keys at JWT_JWKS_URL; or an HS256 token signed with BETTER_AUTH_SECRET "
    "(other issuers, development, `make token`)."
)


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


NOTHING_BOUND: MappingProxyType[str, Any] = MappingProxyType({})


def provide_db(request: Request[Any, Any, Any]) -> Database:
    """A handler's ``db``: the app's Database, or the transaction a layer bound its request to (service.idempotency).

    Not cached: Litestar's ``use_cache`` would keep the first answer for every request. Timed with
    Litestar's own dependency resolution, it costs no more than the cached ``state.db`` did.
    """
    db: Database = request.scope.get("state", NOTHING_BOUND).get(BOUND_DATABASE) or request.app.state.db
    return db


@get("/", include_in_schema=False, exclude_from_auth=True)
async def root() -> Redirect:
    return Redirect(path="/docs")


def start_purging(settings: Settings, db: Database) -> asyncio.Task[None] | None:
    """The purge job of this process (service.sync.purge), unless PURGE_INTERVAL_SECONDS is 0."""
    if not settings.purge_interval_seconds:
        return None
    retention = purge.Retention(
        trash=timedelta(days=settings.trash_retention_days), tombstones=timedelta(days=settings.sync_retention_days)
    )
    return asyncio.create_task(purge.run_every(settings.purge_interval_seconds, db, retention), name="purge")


def require_servable(settings: Settings) -> None:
    """Raise ValueError naming what keeps ``create_app(settings)`` from serving; builds nothing."""
    if not settings.better_auth_secret and not settings.jwt_jwks_url:
        raise ValueError("set BETTER_AUTH_SECRET or JWT_JWKS_URL: without either no token can be verified")
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    rate_limit.require_store_client(settings)


def create_app(settings: Settings | None = None) -> Litestar:
    """The app, its whole stack (service.asgi) in front; without settings, from the environment."""
    settings = settings or load_settings()
    require_servable(settings)
    http = httpx.AsyncClient(timeout=settings.jwks_timeout_seconds) if settings.jwt_jwks_url else None
    jwks = None
    if http is not None:
        jwks = JWKSCache(
            settings.jwt_jwks_url,
            http,
            cache_seconds=settings.jwks_cache_seconds,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
        )
    limiter = rate_limit.limiter(settings)
    metrics = Metrics()
    verifier = TokenVerifier(settings, jwks)
    events = LiveEvents(settings, verifier) if settings.events_enabled else None
    optional_routes: list[ControllerRouterHandler] = []
    if settings.metrics_enabled:
        optional_routes.append(metrics_route(metrics))
    if events is not None:
        optional_routes.append(EventController)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await database.create_pool(settings)
        app.state.db = Database(pool, acquire_timeout=settings.db_pool_acquire_timeout)
        app.state.migration_ids = migrations.migration_ids()
        app.state.max_tasks_per_user = settings.max_tasks_per_user
        metrics.watch_pool(app.state.db)
        if jwks is not None:
            await jwks.refresh()  # warm the cache; a failure here is logged and retried on demand
        purging = start_purging(settings, app.state.db)
        if events is not None:
            app.state.events = events
            await events.start(app.state.db)
            metrics.watch(EventsCollector(events))
        calm_the_garbage_collector()
        try:
            yield
        finally:
            if events is not None:
                await events.stop()
            if purging is not None:
                purging.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purging
            metrics.release()
            if http is not None:
                await http.aclose()
            if limiter is not None:
                await limiter.close()
            await pool.close()

    app = asgi.LayeredLitestar(
        route_handlers=[
            TaskController,
            ListController,
            TagController,
            TrashController,
            ReminderController,
            ChangesController,
            AccountController,
            import_route(import_body_limit(settings.max_tasks_per_user)),
            HealthController,
            root,
            *optional_routes,
        ],
        lifespan=[lifespan],
        # metrics for the handlers that count into it; the lists' quota for their create
        state=State({"metrics": metrics, "max_lists_per_user": settings.max_lists_per_user}),
        dependencies={"db": Provide(provide_db, sync_to_thread=False)},
        middleware=asgi.route_middleware(verifier, limiter),
        plugins=[problem_details, StrictInput()],
        before_send=asgi.BEFORE_SEND,
        exception_handlers=exception_handlers,
        cors_config=CORSConfig(
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
                "Last-Event-ID",
                "X-Request-ID",
            ],
            expose_headers=[
                "ETag",
                "Idempotent-Replayed",
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
            openapi_router=docs_router("/docs"),
            render_plugins=[SelfHostedSwagger()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description=BEARER_SCHEME_DESCRIPTION,
                    )
                }
            ),
        ),
        request_max_body_size=settings.max_body_bytes,
        # Every body is JSON (or the docs page): a browser must not guess another type.
        response_headers=[ResponseHeader(name="X-Content-Type-Options", value="nosniff")],
        # The process configures logging (service.observability.logs); the app only emits records.
        logging_config=None,
    )
    # Generated once here, then served as amended.
    say_what_is_enforced(
        app,
        tasks_openapi.say_what_is_enforced,
        lists_openapi.say_what_is_enforced,
        account_openapi.say_what_is_enforced,
        idempotency_openapi.say_what_is_enforced,
    )
    app.put_behind(asgi.outer_layers(settings, metrics))
    return app
