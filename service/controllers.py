"""HTTP handlers: take validated input, call one query function, shape the answer."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, cast
from urllib.parse import quote
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, ResponseHeader, State
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    ServiceUnavailableException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Operation, RequestBody
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Redirect

from service import etags, listing, queries
from service.database import Database
from service.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, Problem, bad_parameter, problem
from service.listing import Sort
from service.schemas import (
    TIME_ZONES,
    CompletedUpdate,
    Deleted,
    Health,
    Priority,
    TagCount,
    Task,
    TaskCreate,
    TaskReplace,
    TaskStats,
    TaskUpdate,
)

UNKNOWN_TIME_ZONE = "unknown time zone; use an IANA name such as Europe/Paris"

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
PRECONDITION_FAILED = _problem(
    "If-Match did not match the task's current ETag (sent in the ETag header); nothing was written."
)
WRITE_PROBLEMS = {**BODY_PROBLEMS, 412: PRECONDITION_FAILED}
NOT_MODIFIED = ResponseSpec(data_container=None, description="The task still has the ETag given in If-None-Match.")


async def json_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a body must be JSON (415 otherwise); unless ``opt={"body": "optional"}``, one is required.

    It must also be of the handler's type as JSON says it, with no conversion: Litestar decodes
    leniently, which would take ``"due_at": 0`` for 1970 and ``"completed": 1`` for true. A
    body this accepts decodes to the same value either way, so Litestar's decoding then stands.
    """
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
    body = await cast("Request[Any, Any, Any]", connection).body()
    field = handler.parsed_data_field
    try:
        _strict_decoder(field.annotation if field else Any).decode(body)
    except msgspec.ValidationError as exc:  # "data" is Litestar's name for the body, as in its own errors
        error = {"key": "data", "message": str(exc), "source": "body"}
        raise ValidationException(detail=str(exc), extra=[error]) from exc
    except msgspec.DecodeError:
        pass  # not JSON at all: Litestar's own decoding says so, as it always has


@functools.cache  # by type, not by handler: a guard is given a copy of the handler on every request
def _strict_decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


@dataclass
class OptionalBodyOperation(Operation):
    """Litestar marks every request body required; the toggle's is not."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


# Documentation only (the handler sets it); Litestar derives the schema from the value's type.
ETAG = ResponseHeader(
    name="ETag",
    value='"660da8a536a40"',
    description="The task's version; send it back in If-Match to write only if nobody else has since, "
    "or in If-None-Match to skip an unchanged download.",
    documentation_only=True,
)
NEXT_PAGE = ResponseHeader(
    name="Link",
    value='</api/alice/tasks?limit=100&cursor=...>; rel="next"',
    description="Present when there is a next page: its URL, with the same filters and sort.",
    documentation_only=True,
)
CONDITIONAL = (
    "With `If-Match` (the task's ETag), writes only if the task has not changed since; "
    "otherwise 412 and nothing is written."
)
IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='ETag(s) the task must still have, e.g. "660da8a536a40".')
]
IfNoneMatch = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description="ETag(s) of a copy you hold; 304 if still current.")
]

LOCATION = ResponseHeader(
    name="Location",
    value="/api/{user_id}/tasks/{task_id}",
    description="Path of the new task",
    required=True,
    documentation_only=True,
)


def not_found() -> NotFoundException:
    return NotFoundException(detail="task not found")


async def written(
    db: Database, user_id: str, task_id: UUID, task: Task | None, versions: list[datetime] | None
) -> Response[Task]:
    """The answer to a write: the task with its new ETag, or why nothing was written (404 or 412)."""
    if task is not None:
        return etags.with_etag(task)
    raise await refused(db, user_id, task_id, versions)


async def refused(db: Database, user_id: str, task_id: UUID, versions: list[datetime] | None) -> HTTPException:
    """A conditional write changed nothing: 412 when the task is there with another ETag, else 404."""
    if versions is not None and (current := await queries.task_version(db, user_id=user_id, task_id=task_id)):
        return problem(
            412,
            "the task has changed since you read it (If-Match does not match its ETag); "
            "nothing was written: fetch it again and retry",
            headers={"ETag": etags.etag(current)},
        )
    return not_found()


# One user's data: no shared cache (a proxy, the browser's disk) may keep a copy.
PRIVATE = CacheControlHeader(no_store=True)


class TaskController(Controller):
    path = "/api/{user_id:str}/tasks"
    tags = ("tasks",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List tasks",
        description="A page of the user's tasks: filtered, sorted (newest first by default), at most `limit` long. "
        'When there are more, a `Link: <...>; rel="next"` header gives the URL of the next page. '
        "Filters combine with AND.",
        responses={
            **AUTH_PROBLEMS,
            414: _problem("The URL is longer than 8 KiB, e.g. from very many `tag` or `priority` values."),
        },
        response_headers=[NEXT_PAGE],
    )
    async def list_tasks(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        user_id: UserId,
        completed: Annotated[
            bool | None, QueryParameter(description="Only completed (true) or open (false) tasks.")
        ] = None,
        priority: Annotated[
            list[Priority] | None,
            QueryParameter(
                description="Only these priorities; repeat for several.", examples=[Example(value=["high"])]
            ),
        ] = None,
        tag: Annotated[
            list[str] | None,
            QueryParameter(
                description="Only tasks carrying this tag (case-insensitive); repeat: carrying all of them.",
                examples=[Example(value=["work"])],
            ),
        ] = None,
        due_before: Annotated[
            datetime | None,
            QueryParameter(
                description="Due strictly before this time (RFC 3339, with an offset).",
                examples=[Example(value="2026-11-30T00:00:00Z")],
            ),
        ] = None,
        due_after: Annotated[
            datetime | None,
            QueryParameter(
                description="Due at or after this time (RFC 3339, with an offset).",
                examples=[Example(value="2026-11-23T00:00:00Z")],
            ),
        ] = None,
        overdue: Annotated[
            bool | None, QueryParameter(description="Only tasks still open past their due time (true), or the others.")
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                min_length=1,
                max_length=listing.SEARCH_MAX,
                description="Words to find in title or description; each matches the start of a word, "
                "so `mil` finds milk. Only letters and digits make words: `?!` finds nothing.",
                examples=[Example(value="mil")],
            ),
        ] = None,
        sort: Annotated[
            Sort,
            QueryParameter(
                description="Order by this field, `-` first for descending; ties are broken by id. "
                "A task without a due date sorts as if due at infinity; `priority` sorts low < medium < high, "
                "then by creation time.",
                examples=[Example(value="due_at")],
            ),
        ] = listing.DEFAULT_SORT,
        limit: Annotated[int, QueryParameter(ge=1, le=listing.LIMIT_MAX, description="Tasks per page.")] = (
            listing.LIMIT_DEFAULT
        ),
        cursor: Annotated[
            str | None,
            QueryParameter(
                max_length=listing.CURSOR_MAX,
                description="Where the page starts: opaque, from the previous page's `Link` header; "
                "valid with the same `sort`.",
            ),
        ] = None,
    ) -> Response[list[Task]]:
        query = listing.task_query(
            completed=completed,
            priority=priority,
            tag=tag,
            due_before=due_before,
            due_after=due_after,
            overdue=overdue,
            q=q,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        tasks = [] if query.finds_nothing else await queries.list_tasks(db, user_id=user_id, query=query)
        if len(tasks) <= limit:
            return Response(tasks)
        del tasks[limit:]
        return Response(tasks, headers={"Link": listing.next_page(request, listing.encode_cursor(sort, tasks[-1]))})

    @post(
        "/",
        guards=[json_body],
        summary="Create a task",
        responses={
            **{k: v for k, v in BODY_PROBLEMS.items() if k != 404},
            409: _problem("The user already has MAX_TASKS_PER_USER tasks (10,000 by default)."),
        },
        response_headers=[LOCATION, ETAG],
    )
    async def create_task(self, db: Db, user_id: UserId, data: JSONBody[TaskCreate], state: State) -> Response[Task]:
        quota: int = state.max_tasks_per_user
        task = await queries.create_task(db, user_id=user_id, data=data, quota=quota)
        if task is None:
            raise problem(409, f"you have {quota:,} tasks, the most one user may have: delete some to add more")
        return etags.with_etag(task, 201, {"Location": f"/api/{quote(user_id, safe='')}/tasks/{task.id}"})

    @delete(
        "/",
        status_code=200,
        summary="Clear completed tasks",
        description="Deletes every completed task of the user and says how many went. "
        "`completed=true` is required, so a request without it cannot empty the list.",
        responses=AUTH_PROBLEMS,
    )
    async def delete_completed_tasks(
        self,
        db: Db,
        user_id: UserId,
        completed: Annotated[bool, QueryParameter(description="Must be true: delete the completed tasks.")],
    ) -> Deleted:
        if not completed:
            raise bad_parameter("completed", "only completed=true is supported: it clears the completed tasks")
        return Deleted(deleted=await queries.delete_completed_tasks(db, user_id=user_id))

    @get(
        "/stats",
        summary="Task statistics",
        description="Totals over all of the user's tasks, per priority and per tag, from one query. "
        "`overdue` and `due_today` count open tasks.",
        responses=AUTH_PROBLEMS,
    )
    async def task_stats(
        self,
        db: Db,
        user_id: UserId,
        tz: Annotated[
            str,
            QueryParameter(
                description="IANA time zone whose calendar day is today for `due_today`.",
                examples=[Example(value="Europe/Paris")],
            ),
        ] = "UTC",
    ) -> TaskStats:
        if tz not in TIME_ZONES:
            raise bad_parameter("tz", UNKNOWN_TIME_ZONE)
        try:
            return await queries.task_stats(db, user_id=user_id, time_zone=tz)
        except asyncpg.InvalidParameterValueError as exc:  # a zone newer than the database's own list
            raise bad_parameter("tz", UNKNOWN_TIME_ZONE) from exc

    @get(
        "/{task_id:str}",
        summary="Get a task",
        description="With `If-None-Match` holding the task's current ETag, answers 304 without a body.",
        responses={**TASK_PROBLEMS, 304: NOT_MODIFIED},
        response_headers=[ETAG],
    )
    async def get_task(
        self, db: Db, user_id: UserId, task_id: TaskId, if_none_match: IfNoneMatch = None
    ) -> Response[Task]:
        task = await queries.get_task(db, user_id=user_id, task_id=task_id)
        if task is None:
            raise not_found()
        tag = etags.etag(task.updated_at)
        if not etags.none_match(if_none_match, tag):
            return Response(cast(Task, None), status_code=304, headers={"ETag": tag})
        return etags.with_etag(task)

    @put(
        "/{task_id:str}",
        guards=[json_body],
        summary="Replace a task",
        description="Sets the whole content: an omitted field gets its default (description and due_at null, "
        "priority medium, no tags), except `completed`, which is set when given and kept when omitted. " + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def replace_task(
        self, db: Db, user_id: UserId, task_id: TaskId, data: JSONBody[TaskReplace], if_match: IfMatch = None
    ) -> Response[Task]:
        versions = etags.if_match_versions(if_match)
        task = await queries.replace_task(db, user_id=user_id, task_id=task_id, data=data, versions=versions)
        return await written(db, user_id, task_id, task, versions)

    @patch(
        "/{task_id:str}",
        guards=[json_body],
        summary="Update some fields of a task",
        description="Changes only the fields given; at least one is required. "
        "`description: null` and `due_at: null` clear them. " + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def update_task(
        self, db: Db, user_id: UserId, task_id: TaskId, data: JSONBody[TaskUpdate], if_match: IfMatch = None
    ) -> Response[Task]:
        versions = etags.if_match_versions(if_match)
        task = await queries.update_task(db, user_id=user_id, task_id=task_id, data=data, versions=versions)
        return await written(db, user_id, task_id, task, versions)

    @patch(
        "/{task_id:str}/complete",
        guards=[json_body],
        opt={"body": "optional"},
        operation_class=OptionalBodyOperation,
        summary="Toggle or set completion",
        description='Without a body, flips `completed` atomically. With `{"completed": true|false}`, '
        "sets that value, so a retry is harmless. `completed_at` follows. " + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def complete_task(
        self,
        db: Db,
        user_id: UserId,
        task_id: TaskId,
        data: JSONBody[CompletedUpdate | None] = None,
        if_match: IfMatch = None,
    ) -> Response[Task]:
        versions = etags.if_match_versions(if_match)
        if data is None:
            task = await queries.toggle_task(db, user_id=user_id, task_id=task_id, versions=versions)
        else:
            task = await queries.set_task_completed(
                db, user_id=user_id, task_id=task_id, completed=data.completed, versions=versions
            )
        return await written(db, user_id, task_id, task, versions)

    @delete(
        "/{task_id:str}",
        summary="Delete a task",
        description=CONDITIONAL,
        responses={**TASK_PROBLEMS, 412: PRECONDITION_FAILED},
    )
    async def delete_task(self, db: Db, user_id: UserId, task_id: TaskId, if_match: IfMatch = None) -> None:
        versions = etags.if_match_versions(if_match)
        if not await queries.delete_task(db, user_id=user_id, task_id=task_id, versions=versions):
            raise await refused(db, user_id, task_id, versions)


class TagController(Controller):
    path = "/api/{user_id:str}/tags"
    tags = ("tasks",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="List tags",
        description="The user's tags with how many tasks carry each, most used first.",
        responses=AUTH_PROBLEMS,
    )
    async def list_tags(self, db: Db, user_id: UserId) -> list[TagCount]:
        return await queries.list_tags(db, user_id=user_id)


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
