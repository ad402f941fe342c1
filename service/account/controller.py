"""The account routes: export, import and calendar export of a user's data, and erasing it."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.response import Response, Stream

from service.account import calendar, export, imports, queries
from service.account.schemas import Export, ImportDocument, Imported
from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, BODY_PROBLEMS, PRIVATE, UserId, problem_response
from service.http.field_errors import FieldError
from service.idempotency.middleware import KeylessOperation

ERASE_DESCRIPTION = """\
Erases the user's data, in one transaction: every task, trashed task, list, reminder, tombstone and \
idempotency key of the user is gone for good. Only the user's revision counter stays, which holds \
nothing but a number: it advances, and the change feed remembers nothing before it, so a device that \
syncs with an older `since` gets 410 and drops its copy. The user can start again from nothing. \
`confirm` must repeat the user id (a guard against a slip): without it, 400 and nothing is erased. \
Call it from the web app when a person deletes their account. Safe to repeat; an `Idempotency-Key` \
is not needed, and not recorded (that record would be a row of the user left behind)."""

EXPORT_DESCRIPTION = """\
Every list, live task (open and completed) and trashed task of the user, in one JSON document: \
`{"format": "task-api-export", "version": 1, "exported_at", "lists", "tasks", "trash"}`, each item as \
the API shows it. It is one consistent snapshot, streamed as it is read, and sent as an attachment. \
`POST /api/{user_id}/import` takes it back, here or on another instance, for this user or another."""
ATTACHMENT = 'attachment; filename="task-api-export.json"'

NOT_CONFIRMED = "Expected the user id of the path again, to confirm the erase; nothing was erased"


class AccountController(Controller):
    path = "/api/{user_id:str}"
    tags = ("account",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/export",
        summary="Export the user's data",
        description=EXPORT_DESCRIPTION,
        responses={
            **AUTH_PROBLEMS,
            200: ResponseSpec(Export, description="The export document, as an attachment.", generate_examples=False),
        },
    )
    async def export(self, db: InjectedDatabase, user_id: UserId) -> Stream:
        pieces = export.chunks(db, user_id=user_id)
        # The first piece opens the snapshot: a database that is down is a 503 here, before any 200.
        first = await anext(pieces)
        return Stream(
            export.after(first, pieces), media_type="application/json", headers={"Content-Disposition": ATTACHMENT}
        )

    @get(
        "/export.ics",
        summary="Export open tasks to a calendar",
        description="Each open task of the user with a due date as an RFC 5545 `VTODO`, for a calendar app to "
        "import: `UID` (the task id), `SUMMARY`, `DESCRIPTION`, `DUE` (on the wall clock of the task's "
        "`time_zone`, with its `VTIMEZONE`), `STATUS` (`NEEDS-ACTION`), `PRIORITY` (high 1, medium 5, low 9), "
        "`CATEGORIES` (the tags), `RRULE` (the task's `recurrence`), and a `VALARM` per reminder, its trigger "
        "that many minutes before `DUE`.",
        responses={
            **AUTH_PROBLEMS,
            200: ResponseSpec(str, description="A VCALENDAR.", media_type="text/calendar", generate_examples=False),
        },
    )
    async def export_calendar(self, db: InjectedDatabase, user_id: UserId) -> Response[bytes]:
        return Response(
            await calendar.calendar(db, user_id=user_id),
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="tasks.ics"'},
        )

    @delete(
        "/",
        summary="Erase the user's data",
        description=ERASE_DESCRIPTION,
        responses=AUTH_PROBLEMS,
        operation_class=KeylessOperation,
    )
    async def erase(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        confirm: Annotated[
            str | None, QueryParameter(description="The user id again, to confirm the erase.", max_length=255)
        ] = None,
    ) -> None:
        if confirm != user_id:
            raise FieldError("confirm", NOT_CONFIRMED, "query")
        async with db.transaction() as transaction:
            await queries.erase(transaction, user_id=user_id)


# An exported task is about 0.5 KiB as people write them; one with a title, description and tags
# all at their longest, in characters of three UTF-8 bytes, is about 4 KiB. The body limit of an
# import lets an export of MAX_TASKS_PER_USER such tasks through, with room for the lists and as
# many tasks again in the trash at the usual size: 42 MiB for 10,000 (docs/benchmarks.md).
IMPORT_BYTES_PER_TASK = 4096 + 512
IMPORT_BYTES_MORE = 2 * 1024 * 1024  # the lists, the document's frame


def import_body_limit(max_tasks_per_user: int) -> int:
    return max_tasks_per_user * IMPORT_BYTES_PER_TASK + IMPORT_BYTES_MORE


IMPORT_DESCRIPTION = """\
Takes an export document (`GET /api/{user_id}/export`, of this service or another instance, of this \
user or another) and writes it, in one transaction, over the user's data: an item with an id the user \
has (live or trashed) is replaced, others are created with the id they carry; nothing is deleted. Each \
item's writable fields are validated as on create; its read-only fields are accepted: `id`, \
`created_at`, `updated_at` and `completed_at` are kept as exported (a trashed task's `deleted_at` \
too, never later than now; a series' `series_id`), the rest (`user_id`, `revision`, `position`, \
counts) ignored. Everything written belongs to this user; ids are per user, so another user's ids make \
this user's copies and never touch the other's data. Items of `trash` come back trashed. Tasks go last \
in their place in the document's order (an export lists them in the user's order), each with a new \
`revision`, so other devices see the import through `/changes`. A bad item is a 400 naming its place \
counted from 0 (`tasks[17].title`), as is a duplicate id or another `format` or `version`; nothing is \
written then. The body may be larger than other routes': an export of MAX_TASKS_PER_USER tasks fits."""


def import_route(max_body_bytes: int) -> HTTPRouteHandler:
    """The import route, whose body limit comes from the settings' MAX_TASKS_PER_USER."""

    @post(
        "/api/{user_id:str}/import",
        status_code=200,
        tags=["account"],
        security=[{"BearerToken": []}],
        cache_control=PRIVATE,
        summary="Import an export document",
        description=IMPORT_DESCRIPTION,
        request_max_body_size=max_body_bytes,
        responses={
            **AUTH_PROBLEMS,
            **BODY_PROBLEMS,
            413: problem_response(
                "The document is larger than this route accepts, which is room for an export of "
                "MAX_TASKS_PER_USER tasks (docs/benchmarks.md)."
            ),
            409: problem_response(
                "The import would take the user past MAX_TASKS_PER_USER tasks or MAX_LISTS_PER_USER lists, or a "
                "list of the user not in the document has the name of one in it; nothing was written."
            ),
        },
    )
    async def import_data(
        db: InjectedDatabase, user_id: UserId, data: JSONBody[ImportDocument], state: State
    ) -> Imported:
        async with db.transaction() as transaction:
            return await imports.run(
                transaction,
                user_id=user_id,
                document=data,
                quota=state.max_tasks_per_user,
                max_lists=state.max_lists_per_user,
            )

    return import_data
