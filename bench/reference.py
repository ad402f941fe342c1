"""Reference points, served by the same uvicorn settings as the service.

- ``noop``: what uvicorn and Litestar alone can do: a route that returns a constant.
- ``bare``: what our stack can do at best, one handler per service scenario, on the service's
  paths: the service's own SQL for that endpoint through an asyncpg pool with the service's pool
  options, and nothing else: no authentication, validation, dependency injection or logging, the
  rows encoded as they come. The SQL text is read from ``sql/tasks.sql`` here, with a few lines
  of our own, so the bench does not lean on the service's loader.
- ``bare without revisions``: the same handlers for create, toggle and delete, running those writes
  as they were before revisions and the trash (``BEFORE_SYNC``) on a database migrated only up to
  ``BEFORE_SYNC_MIGRATION``: what revisions and tombstones cost a write.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from service.config import load_settings
from service.db.pool import pool_options

SQL_FILE = Path(__file__).resolve().parent.parent / "sql" / "tasks.sql"
_NAME = re.compile(r"^--\s*name:\s*(\w+)")
PAGE = 100  # GET /tasks without parameters: the default page, and one more row to tell whether another follows
QUOTA = 10_000  # the service's default MAX_TASKS_PER_USER


def named_statements(text: str) -> dict[str, str]:
    """Each ``-- name: <name>`` block of ``text``: its lines up to the next name line, less whole-line comments."""
    statements: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in text.splitlines():
        if match := _NAME.match(line):
            lines = statements[match[1]] = []
        elif not line.lstrip().startswith("--"):
            lines.append(line)
    return {name: "\n".join(body).strip().rstrip(";").strip() for name, body in statements.items()}


SQL = named_statements(SQL_FILE.read_text(encoding="utf-8"))
# What the service sends for GET /tasks without parameters: newest first, one page (+1).
LIST_SQL = "\n".join(
    (SQL["list_tasks"], SQL["order_created_at"].format(dir="DESC"), SQL["page_limit"].replace("$1", "$2"))
)
# Each handler's statement, by what it does.
STATEMENTS = {
    "list": LIST_SQL,
    "get": SQL["get_task"],
    "create": SQL["create_task"],
    "replace": SQL["replace_task"],
    "toggle": SQL["toggle_task"],
    "delete": SQL["trash_task"],
}

# The writes as sql/tasks.sql had them before revisions and the trash (commit 3e7f1fa, its
# create_task, toggle_task and delete_task), with the same parameters, for the schema as of this
# migration: no revision to take, no counter to advance, a delete that deletes.
BEFORE_SYNC_MIGRATION = "0003.count-tasks-per-user"
BEFORE_SYNC = {
    "create": """
INSERT INTO tasks (user_id, title, description, priority, tags, due_at, created_at, updated_at)
SELECT $1, $2, $3, $4, $5, $6, moment.now, moment.now
FROM (SELECT clock_timestamp() AS now) AS moment
WHERE coalesce((SELECT tasks FROM task_counts WHERE user_id = $1 FOR UPDATE), 0) < $7
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at
""".strip(),
    "toggle": """
UPDATE tasks
SET completed = NOT completed
WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
RETURNING id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at
""".strip(),
    "delete": """
DELETE FROM tasks
WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = any($3))
RETURNING id
""".strip(),
}


@get("/noop", sync_to_thread=False)
def noop() -> dict[str, bool]:
    return {"ok": True}


def noop_app() -> Litestar:
    return Litestar(route_handlers=[noop], openapi_config=None, logging_config=None)


TASKS = "/api/{user_id:str}/tasks"
TASK = "/api/{user_id:str}/tasks/{task_id:str}"


def _task(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        raise NotFoundException()
    return dict(row)


@get(TASKS)
async def bare_list(state: State, user_id: FromPath[str]) -> list[dict[str, Any]]:
    rows = await state.pool.fetch(state.sql["list"], user_id, PAGE + 1)
    return [dict(row) for row in rows]


@get(TASK)
async def bare_get(state: State, user_id: FromPath[str], task_id: FromPath[str]) -> dict[str, Any]:
    return _task(await state.pool.fetchrow(state.sql["get"], user_id, task_id))


@post(TASKS)
async def bare_create(request: Request[Any, Any, Any], state: State, user_id: FromPath[str]) -> dict[str, Any]:
    body = msgspec.json.decode(await request.body())
    row = await state.pool.fetchrow(
        state.sql["create"],
        user_id,
        body["title"],
        body.get("description"),
        body.get("priority", "medium"),
        body.get("tags", []),
        None,
        QUOTA,
        None,  # recurrence
        "UTC",  # time_zone
        [],  # reminders
        None,  # list_id: the inbox
        None,  # parent_id
        None,  # position: one made from the id
    )
    return _task(row)


@put(TASK)
async def bare_replace(
    request: Request[Any, Any, Any], state: State, user_id: FromPath[str], task_id: FromPath[str]
) -> dict[str, Any]:
    body = msgspec.json.decode(await request.body())
    row = await state.pool.fetchrow(
        state.sql["replace"],
        user_id,
        task_id,
        body["title"],
        body.get("description"),
        body.get("priority", "medium"),
        body.get("tags", []),
        None,  # due_at
        None,  # versions: no If-Match
        body.get("completed"),
        None,  # recurrence
        "UTC",  # time_zone
        [],  # reminders
        False,  # completing: not an occurrence of a series
    )
    return _task(row)


@patch(TASK + "/complete")
async def bare_toggle(state: State, user_id: FromPath[str], task_id: FromPath[str]) -> dict[str, Any]:
    return _task(await state.pool.fetchrow(state.sql["toggle"], user_id, task_id, None, False))


@delete(TASK)
async def bare_delete(state: State, user_id: FromPath[str], task_id: FromPath[str]) -> Response[None]:
    if await state.pool.fetchval(state.sql["delete"], user_id, task_id, None) is None:
        raise NotFoundException()
    return Response(None, status_code=204)


@asynccontextmanager
async def _pool(app: Litestar) -> AsyncIterator[None]:
    # The service's own pool settings, so the difference measured is everything above the pool.
    app.state.pool = await asyncpg.create_pool(**pool_options(load_settings()))
    try:
        yield
    finally:
        await app.state.pool.close()


def _bare(statements: dict[str, str], handlers: list[HTTPRouteHandler]) -> Litestar:
    return Litestar(
        route_handlers=handlers,
        lifespan=[_pool],
        state=State({"sql": statements}),
        openapi_config=None,
        logging_config=None,
    )


def bare_app() -> Litestar:
    return _bare(STATEMENTS, [bare_list, bare_get, bare_create, bare_replace, bare_toggle, bare_delete])


def bare_app_before_sync() -> Litestar:
    """The writes before revisions and the trash; its DATABASE_URL must be at BEFORE_SYNC_MIGRATION."""
    return _bare(BEFORE_SYNC, [bare_create, bare_toggle, bare_delete])
