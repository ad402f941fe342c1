"""HTTP handlers: take validated input, call one query function, shape the answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote
from uuid import UUID

import asyncpg
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotFoundException, ServiceUnavailableException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from service import queries
from service.database import Database
from service.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, Problem
from service.schemas import CompletedUpdate, Health, Task, TaskCreate, TaskReplace, TaskUpdate

Db = NamedDependency[Database]
UserId = FromPath[str]
TaskId = FromPath[UUID]  # the route takes any string, so a malformed id is a 400 naming task_id, not a 404

PROBLEM = "application/problem+json"
RETRY = {"Retry-After": RETRY_AFTER_SECONDS}


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM, generate_examples=False)


AUTH_PROBLEMS = {
    400: _problem("The request is malformed or fails validation; `errors` names each bad field."),
    401: _problem("Missing, malformed, badly signed or expired bearer token."),
    403: _problem("The token belongs to a different user than the one in the path."),
    503: _problem("The database is unavailable; retry after `Retry-After` seconds."),
}
TASK_PROBLEMS = {**AUTH_PROBLEMS, 404: _problem("No such task for this user.")}
BODY_PROBLEMS = {
    **TASK_PROBLEMS,
    413: _problem("The request body is larger than the service accepts."),
    415: _problem("The request body is not JSON."),
}


async def json_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a body must be JSON (415 otherwise); unless ``opt={"body": "optional"}``, one is required."""
    headers = connection.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        if handler.opt.get("body") != "optional":
            raise ClientException(detail="a JSON request body is required")
        return
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            status_code=415, detail="the request body must be JSON, sent with Content-Type: application/json"
        )


@dataclass
class OptionalBodyOperation(Operation):
    """Litestar marks every request body required; the toggle's is not."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


# Documentation only (the handler sets it); Litestar derives the schema from the value's type.
LOCATION = ResponseHeader(
    name="Location",
    value="/api/{user_id}/tasks/{task_id}",
    description="Path of the new task",
    required=True,
    documentation_only=True,
)


def not_found() -> NotFoundException:
    return NotFoundException(detail="task not found")


class TaskController(Controller):
    path = "/api/{user_id:str}/tasks"
    tags = ("tasks",)
    security = ({"BearerToken": []},)

    @get("/", summary="List tasks", description="The user's tasks, newest first.", responses=AUTH_PROBLEMS)
    async def list_tasks(self, db: Db, user_id: UserId) -> list[Task]:
        return await queries.list_tasks(db, user_id=user_id)

    @post(
        "/",
        guards=[json_body],
        summary="Create a task",
        responses={k: v for k, v in BODY_PROBLEMS.items() if k != 404},
        response_headers=[LOCATION],
    )
    async def create_task(self, db: Db, user_id: UserId, data: JSONBody[TaskCreate]) -> Response[Task]:
        task = await queries.create_task(db, user_id=user_id, data=data)
        return Response(task, status_code=201, headers={"Location": f"/api/{quote(user_id, safe='')}/tasks/{task.id}"})

    @get("/{task_id:str}", summary="Get a task", responses=TASK_PROBLEMS)
    async def get_task(self, db: Db, user_id: UserId, task_id: TaskId) -> Task:
        task = await queries.get_task(db, user_id=user_id, task_id=task_id)
        if task is None:
            raise not_found()
        return task

    @put(
        "/{task_id:str}",
        guards=[json_body],
        summary="Replace a task",
        description="Sets title and description (an omitted description becomes null); "
        "`completed` is set when given and kept when omitted.",
        responses=BODY_PROBLEMS,
    )
    async def replace_task(self, db: Db, user_id: UserId, task_id: TaskId, data: JSONBody[TaskReplace]) -> Task:
        task = await queries.replace_task(db, user_id=user_id, task_id=task_id, data=data)
        if task is None:
            raise not_found()
        return task

    @patch(
        "/{task_id:str}",
        guards=[json_body],
        summary="Update some fields of a task",
        description="Changes only the fields given; at least one is required. "
        "`description: null` clears the description.",
        responses=BODY_PROBLEMS,
    )
    async def update_task(self, db: Db, user_id: UserId, task_id: TaskId, data: JSONBody[TaskUpdate]) -> Task:
        task = await queries.update_task(db, user_id=user_id, task_id=task_id, data=data)
        if task is None:
            raise not_found()
        return task

    @patch(
        "/{task_id:str}/complete",
        guards=[json_body],
        opt={"body": "optional"},
        operation_class=OptionalBodyOperation,
        summary="Toggle or set completion",
        description='Without a body, flips `completed` atomically. With `{"completed": true|false}`, '
        "sets that value, so a retry is harmless.",
        responses=BODY_PROBLEMS,
    )
    async def complete_task(
        self, db: Db, user_id: UserId, task_id: TaskId, data: JSONBody[CompletedUpdate | None] = None
    ) -> Task:
        if data is None:
            task = await queries.toggle_task(db, user_id=user_id, task_id=task_id)
        else:
            task = await queries.set_task_completed(db, user_id=user_id, task_id=task_id, completed=data.completed)
        if task is None:
            raise not_found()
        return task

    @delete("/{task_id:str}", summary="Delete a task", responses=TASK_PROBLEMS)
    async def delete_task(self, db: Db, user_id: UserId, task_id: TaskId) -> None:
        if not await queries.delete_task(db, user_id=user_id, task_id=task_id):
            raise not_found()


class HealthController(Controller):
    path = "/health"
    tags = ("health",)
    opt = MappingProxyType({"exclude_from_auth": True})  # handed to each handler below

    @get("/", summary="Liveness", description="The process answers; the database is not consulted.")
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="Readiness",
        description="The database answers and every migration is applied.",
        responses={503: _problem("The database is unreachable or the schema is not migrated.")},
    )
    async def ready(self, db: Db, state: State) -> Health:
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


@get("/", include_in_schema=False, exclude_from_auth=True)
async def root() -> Redirect:
    return Redirect(path="/docs")
