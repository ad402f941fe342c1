"""Reference points, served by the same uvicorn settings as the service.

- ``noop``: what uvicorn and Litestar alone can do: a route that returns a constant.
- ``bare``: what our stack can do at best: the service's own list SQL through an asyncpg
  pool, with no authentication, validation, DI or logging, the rows encoded as they come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.params import FromPath

from service.config import load_settings
from service.db.pool import pool_options
from service.tasks.statements import TaskQuery, list_statement

DEFAULT_PAGE = TaskQuery()  # what GET /tasks without parameters asks for


@get("/noop", sync_to_thread=False)
def noop() -> dict[str, bool]:
    return {"ok": True}


def noop_app() -> Litestar:
    return Litestar(route_handlers=[noop], openapi_config=None, logging_config=None)


@get("/bare/{user_id:str}/tasks")
async def bare_list(state: State, user_id: FromPath[str]) -> list[dict[str, Any]]:
    sql, args = list_statement(user_id, DEFAULT_PAGE)
    rows = await state.pool.fetch(sql, *args)
    return [dict(row) for row in rows]


@asynccontextmanager
async def _pool(app: Litestar) -> AsyncIterator[None]:
    # The service's own pool settings, so the difference measured is everything above the pool.
    app.state.pool = await asyncpg.create_pool(**pool_options(load_settings()))
    try:
        yield
    finally:
        await app.state.pool.close()


def bare_app() -> Litestar:
    return Litestar(route_handlers=[bare_list], lifespan=[_pool], openapi_config=None, logging_config=None)
