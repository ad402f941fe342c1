"""Liveness and readiness, for the orchestrator; no authentication."""

from __future__ import annotations

import asyncio
from types import MappingProxyType

import asyncpg
from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import ServiceUnavailableException

from service.db.pool import DATABASE_UNAVAILABLE, InjectedDatabase
from service.health import queries
from service.health.schemas import Health
from service.http.docs import ANY_ROUTE_PROBLEMS, RETRY_AFTER, problem_response
from service.http.problems import RETRY_AFTER_SECONDS

RETRY = {"Retry-After": RETRY_AFTER_SECONDS}


class HealthController(Controller):
    path = "/health"
    tags = ("health",)
    opt = MappingProxyType({"exclude_from_auth": True})  # handed to each handler below

    @get(
        "/",
        summary="Liveness",
        description="The process answers; the database is not consulted.",
        responses=ANY_ROUTE_PROBLEMS,
    )
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="Readiness",
        description="The database answers and every migration is applied.",
        responses={
            **ANY_ROUTE_PROBLEMS,
            503: problem_response(
                "The database is unreachable or the schema is not migrated.", {"Retry-After": RETRY_AFTER}
            ),
        },
    )
    async def ready(self, db: InjectedDatabase, state: State) -> Health:
        expected: list[str] = state.migration_ids
        try:
            applied = await asyncio.wait_for(queries.applied_migrations(db, migration_ids=expected), timeout=2.0)
        except DATABASE_UNAVAILABLE as exc:
            raise ServiceUnavailableException(detail="the database is unreachable", headers=RETRY) from exc
        except asyncpg.UndefinedTableError:  # yoyo has never run here
            applied = set()
        missing = [migration for migration in expected if migration not in applied]
        if missing:
            raise ServiceUnavailableException(
                detail=f"the schema is not migrated: pending {', '.join(missing)}", headers=RETRY
            )
        return Health(status="ready")
