"""The tasks routes: take validated input, call one query function, shape the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import quote
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UNSET

from service.db.pool import Database, InjectedDatabase, PinnedDatabase
from service.db.statements import Executor
from service.http import conditional as etags
from service.http.body import OptionalBodyOperation
from service.http.docs import AUTH_PROBLEMS, BODY_PROBLEMS, PRIVATE, UserId, problem_response
from service.http.field_errors import FieldError
from service.http.problems import problem
from service.lists import queries as list_queries
from service.tasks import listing, placing, queries, recurrence, writes
from service.tasks.docs import (
    CONDITIONAL,
    ETAG,
    LOCATION,
    NEXT_PAGE,
    NOT_FOUND,
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    TASK_PROBLEMS,
    WRITE_PROBLEMS,
    IfMatch,
    IfNoneMatch,
)
from service.tasks.listing import Sort
from service.tasks.openapi import TAG
from service.tasks.schemas import (
    DUE_DATE_PATTERN,
    TIME_ZONES,
    UNKNOWN_TIME_ZONE,
    CompletedUpdate,
    Deleted,
    Priority,
    Task,
    TaskCreate,
    TaskMove,
    TaskReplace,
    TaskStats,
    TaskUpdate,
    check_time_zone,
)

OCCURRENCES_MAX = 50
TaskId = FromPath[UUID]  # the route takes any string, so a malformed id is a 400 naming task_id, not a 404
NIL = UUID(int=0)  # what a filter's `null` stands for: the inbox, or no parent
ID_OR_NULL = "^(null|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$"
PLACING = (
    "A `list_id` or `parent_id` that changes puts the task last there (a task moving to another list takes its "
    "subtasks along); the rules are those of a create, checked before anything is written. "
)


ListFilter = Annotated[
    str | None,
    QueryParameter(
        pattern=ID_OR_NULL,
        description="Only the tasks of this list (a list's `id`), or of the inbox (`null`).",
        examples=[Example(value="null")],
    ),
]


def id_or_null(value: str | None, name: str) -> UUID | None:
    """A filter's uuid, the nil uuid for `null`, None when not filtered; a FieldError naming it otherwise."""
    if value is None:
        return None
    if value == "null":
        return NIL
    try:
        return UUID(value)
    except ValueError as exc:
        raise FieldError(name, "Expected a uuid, or null", "query") from exc


async def check_filters(db: Executor, user_id: str, list_id: UUID | None, parent_id: UUID | None = None) -> None:
    """A filter naming a list or task the user does not have is a 400 naming it (another user's too)."""
    if list_id not in (None, NIL) and await list_queries.get_list(db, user_id=user_id, list_id=list_id) is None:
        raise FieldError("list_id", "no such list", "query")
    if parent_id not in (None, NIL) and await queries.task_version(db, user_id=user_id, task_id=parent_id) is None:
        raise FieldError("parent_id", "no such task", "query")


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
            414: problem_response("The URL is longer than 8 KiB, e.g. from very many `tag` or `priority` values."),
        },
        response_headers=[NEXT_PAGE],
    )
    async def list_tasks(
        self,
        request: Request[Any, Any, Any],
        db: InjectedDatabase,
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
                schema_extra={"items": TAG},
            ),
        ] = None,
        due_before: Annotated[
            datetime | None,
            QueryParameter(
                description="Due strictly before this time (RFC 3339, with an offset).",
                examples=[Example(value="2026-11-30T00:00:00Z")],
                schema_extra={"pattern": DUE_DATE_PATTERN},
            ),
        ] = None,
        due_after: Annotated[
            datetime | None,
            QueryParameter(
                description="Due at or after this time (RFC 3339, with an offset).",
                examples=[Example(value="2026-11-23T00:00:00Z")],
                schema_extra={"pattern": DUE_DATE_PATTERN},
            ),
        ] = None,
        overdue: Annotated[
            bool | None, QueryParameter(description="Only tasks still open past their due time (true), or the others.")
        ] = None,
        series_id: Annotated[
            UUID | None, QueryParameter(description="Only the occurrences of this series (a task's `series_id`).")
        ] = None,
        list_id: ListFilter = None,
        parent_id: Annotated[
            str | None,
            QueryParameter(
                pattern=ID_OR_NULL,
                description="Only the subtasks of this task, or (`null`) only the tasks that are no subtask.",
                examples=[Example(value="null")],
            ),
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
                "then by creation time. `position` is the user's own order (`POST .../move`): by list (the inbox "
                "first), the tasks that are no subtask before the subtasks, these by parent, and each group by "
                "position; with `list_id` and `parent_id` given, just the one group in order.",
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
            series_id=series_id,
            list_id=id_or_null(list_id, "list_id"),
            parent_id=id_or_null(parent_id, "parent_id"),
            q=q,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        tasks = [] if query.finds_nothing else await queries.list_tasks(db, user_id=user_id, query=query)
        if not tasks and cursor is None:
            await check_filters(db, user_id, query.list_id, query.parent_id)
        if len(tasks) <= limit:
            return Response(tasks)
        del tasks[limit:]
        return Response(tasks, headers={"Link": listing.next_page(request, listing.encode_cursor(sort, tasks[-1]))})

    @post(
        "/",
        summary="Create a task",
        description="The new task goes last in its list (the inbox without `list_id`; the parent's list for a "
        "subtask without `list_id`), under its parent if `parent_id` is given. A `list_id` or `parent_id` the user "
        "does not have, a parent that is a subtask itself or in another list, is a 400 naming the field.",
        responses={
            **BODY_PROBLEMS,
            409: problem_response("The user already has MAX_TASKS_PER_USER tasks (10,000 by default)."),
        },
        response_headers=[LOCATION, ETAG],
    )
    async def create_task(
        self, db: InjectedDatabase, user_id: UserId, data: JSONBody[TaskCreate], state: State
    ) -> Response[Task]:
        quota: int = state.max_tasks_per_user
        task = await placing.create(db, user_id=user_id, data=data, quota=quota)
        if task is None:
            raise problem(409, f"you have {quota:,} tasks, the most one user may have: delete some to add more")
        location = f"/api/{quote(user_id, safe='')}/tasks/{task.id}"
        return etags.with_etag(task, task.updated_at, 201, {"Location": location})

    @delete(
        "/",
        status_code=200,
        summary="Clear completed tasks",
        description="Moves every completed task of the user to the trash and says how many went. "
        "`completed=true` is required, so a request without it cannot empty the list.",
        responses=AUTH_PROBLEMS,
    )
    async def delete_completed_tasks(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        completed: Annotated[
            bool,
            # false is a 400: there is nothing else to clear
            QueryParameter(description="Must be true: clear the completed tasks.", schema_extra={"enum": [True]}),
        ],
    ) -> Deleted:
        if not completed:
            raise FieldError("completed", "only completed=true is supported: it clears the completed tasks", "query")
        return Deleted(deleted=await queries.trash_completed_tasks(db, user_id=user_id))

    @get(
        "/stats",
        summary="Task statistics",
        description="Totals over all of the user's tasks, per priority and per tag, from one query. "
        "`overdue` and `due_today` count open tasks. With `list_id`, of that list's tasks only.",
        responses=AUTH_PROBLEMS,
    )
    async def task_stats(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        list_id: ListFilter = None,
        tz: Annotated[
            str,
            QueryParameter(
                description="IANA time zone whose calendar day is today for `due_today`.",
                examples=[Example(value="Europe/Paris")],
                schema_extra={"enum": sorted(TIME_ZONES)},
            ),
        ] = "UTC",
    ) -> TaskStats:
        check_time_zone(tz, "tz", "query")
        in_list = id_or_null(list_id, "list_id")
        await check_filters(db, user_id, in_list)
        try:
            return await queries.task_stats(db, user_id=user_id, time_zone=tz, list_id=in_list)
        except asyncpg.InvalidParameterValueError as exc:  # a zone newer than the database's own list
            raise FieldError("tz", UNKNOWN_TIME_ZONE, "query") from exc

    @get(
        "/{task_id:str}",
        summary="Get a task",
        description="With `If-None-Match` holding the task's current ETag, answers 304 without a body.",
        responses={**TASK_PROBLEMS, 304: NOT_MODIFIED},
        response_headers=[ETAG],
    )
    async def get_task(
        self, db: InjectedDatabase, user_id: UserId, task_id: TaskId, if_none_match: IfNoneMatch = None
    ) -> Response[Task]:
        task = await queries.get_task(db, user_id=user_id, task_id=task_id)
        if task is None:
            raise writes.not_found()
        tag = etags.etag(task.updated_at)
        if not etags.none_match(if_none_match, tag):
            return Response(cast(Task, None), status_code=304, headers={"ETag": tag})
        return etags.with_etag(task, task.updated_at)

    @get(
        "/{task_id:str}/occurrences",
        summary="Upcoming occurrences of a series",
        description="The next `limit` due times of the task's series, starting with the task's own `due_at`, as "
        "the rule expands them in the task's `time_zone` (RFC 3339, UTC); fewer when COUNT or UNTIL end it. "
        "A task without a rule has its own `due_at` only, and one without a due date none.",
        responses=TASK_PROBLEMS,
    )
    async def occurrences(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        task_id: TaskId,
        limit: Annotated[int, QueryParameter(ge=1, le=OCCURRENCES_MAX, description="How many due times.")] = 5,
    ) -> list[datetime]:
        series = await queries.occurrence_of(db, user_id=user_id, task_id=task_id)
        if series is None:
            raise writes.not_found()
        if series.due_at is None:
            return []
        return recurrence.occurrences(
            series.recurrence, series.anchor_at, series.time_zone, start=series.due_at, limit=limit
        )

    @put(
        "/{task_id:str}",
        summary="Replace a task",
        description="Sets the whole content: an omitted field gets its default (description and due_at null, "
        "priority medium, no tags), except `completed`, `list_id` and `parent_id`, which are set when given and "
        "kept when omitted. " + PLACING + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def replace_task(
        self,
        db: InjectedDatabase,
        state: State,
        user_id: UserId,
        task_id: TaskId,
        data: JSONBody[TaskReplace],
        if_match: IfMatch = None,
    ) -> Response[Task]:
        versions = etags.if_match_versions(if_match)

        def change(on: Executor, completing: bool) -> Awaitable[Task | None]:
            return queries.replace_task(
                on, user_id=user_id, task_id=task_id, data=data, versions=versions, completing=completing
            )

        return await placed(
            db,
            user_id,
            task_id,
            data,
            lambda on: writes.write(on, user_id, task_id, versions, state.max_tasks_per_user, change),
        )

    @patch(
        "/{task_id:str}",
        summary="Update some fields of a task",
        description="Changes only the fields given; at least one is required. "
        "`description: null` and `due_at: null` clear them. " + PLACING + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def update_task(
        self,
        db: InjectedDatabase,
        state: State,
        user_id: UserId,
        task_id: TaskId,
        data: JSONBody[TaskUpdate],
        if_match: IfMatch = None,
    ) -> Response[Task]:
        def change(checked: list[datetime] | None) -> writes.Write:
            def on(executor: Executor, completing: bool) -> Awaitable[Task | None]:
                return queries.update_task(
                    executor, user_id=user_id, task_id=task_id, data=data, versions=checked, completing=completing
                )

            return on

        versions = etags.if_match_versions(if_match)
        return await placed(
            db,
            user_id,
            task_id,
            data,
            lambda on: writes.write_series(on, user_id, task_id, versions, state.max_tasks_per_user, data, change),
        )

    @patch(
        "/{task_id:str}/complete",
        operation_class=OptionalBodyOperation,  # the body's type allows none: no body toggles
        summary="Toggle or set completion",
        description='Without a body, flips `completed` atomically. With `{"completed": true|false}`, '
        "sets that value, so a retry is harmless. `completed_at` follows. " + CONDITIONAL,
        responses=WRITE_PROBLEMS,
        response_headers=[ETAG],
    )
    async def complete_task(
        self,
        db: InjectedDatabase,
        state: State,
        user_id: UserId,
        task_id: TaskId,
        data: JSONBody[CompletedUpdate | None] = None,
        if_match: IfMatch = None,
    ) -> Response[Task]:
        versions = etags.if_match_versions(if_match)

        def change(on: Executor, completing: bool) -> Awaitable[Task | None]:
            if data is None:
                return queries.toggle_task(
                    on, user_id=user_id, task_id=task_id, versions=versions, completing=completing
                )
            return queries.set_task_completed(
                on, user_id=user_id, task_id=task_id, completed=data.completed, versions=versions, completing=completing
            )

        return await writes.write(db, user_id, task_id, versions, state.max_tasks_per_user, change)

    @delete(
        "/{task_id:str}",
        summary="Delete a task",
        description="Moves the task to the trash (`/api/{user_id}/trash`), where it can be restored for "
        "TRASH_RETENTION_DAYS (30 by default); deleting it again is a 404. " + CONDITIONAL,
        responses={**TASK_PROBLEMS, 412: PRECONDITION_FAILED},
    )
    async def delete_task(
        self, db: InjectedDatabase, user_id: UserId, task_id: TaskId, if_match: IfMatch = None
    ) -> None:
        versions = etags.if_match_versions(if_match)
        if not await queries.trash_task(db, user_id=user_id, task_id=task_id, versions=versions):
            raise await writes.refused(db, user_id, task_id, versions)

    @post(
        "/{task_id:str}/move",
        status_code=200,
        summary="Move a task",
        description="Puts the task right after `after` (null: first) in its list and under its parent, or in "
        "`list_id` (null: the inbox) and under `parent_id` (null: none) when given. Without `parent_id` the task "
        "keeps its parent while it stays in its list, and has none in another. A task moving to another list takes "
        "its subtasks along. Only the moved rows change (and their `revision`); two moves at once never leave two "
        "tasks at one position. `after` must be in the place the task goes to: another list or parent is a 400 "
        "naming it; so are a list, parent or `after` the user does not have, a parent that is a subtask, and a "
        "task with subtasks given a parent.",
        responses={**BODY_PROBLEMS, 404: NOT_FOUND},
        response_headers=[ETAG],
    )
    async def move_task(
        self, db: InjectedDatabase, user_id: UserId, task_id: TaskId, data: JSONBody[TaskMove]
    ) -> Response[Task]:
        task = await placing.move(
            db, user_id=user_id, task_id=task_id, after=data.after, list_id=data.list_id, parent_id=data.parent_id
        )
        if task is None:
            raise writes.not_found()
        return etags.with_etag(task, task.updated_at)


async def placed(
    db: InjectedDatabase,
    user_id: str,
    task_id: UUID,
    data: TaskReplace | TaskUpdate,
    write: Callable[[Database], Awaitable[Response[Task]]],
) -> Response[Task]:
    """A PUT or PATCH: its content written, and the task moved if it names a list or parent, all in one
    transaction: a move refused (a list gone meanwhile, a rule broken) leaves the content unwritten."""
    if data.list_id is UNSET and data.parent_id is UNSET:
        return await write(db)
    async with db.transaction() as transaction:
        pinned = PinnedDatabase(db, transaction)
        # Checked before the content is written, so a bad place is its own 400, whatever else is wrong.
        await placing.check_move(
            pinned, user_id=user_id, task_id=task_id, list_id=data.list_id, parent_id=data.parent_id
        )
        await write(pinned)
        task = await placing.move(
            pinned, user_id=user_id, task_id=task_id, after=UNSET, list_id=data.list_id, parent_id=data.parent_id
        )
    if task is None:
        raise writes.not_found()
    return etags.with_etag(task, task.updated_at)
