"""The account routes: export, import and calendar export of a user's data, and erasing it."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream

from service.account import export, queries
from service.account.schemas import Export
from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId
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
        responses={**AUTH_PROBLEMS, 200: ResponseSpec(Export, description="The export document, as an attachment.")},
    )
    async def export(self, db: InjectedDatabase, user_id: UserId) -> Stream:
        pieces = export.chunks(db, user_id=user_id)
        # The first piece opens the snapshot: a database that is down is a 503 here, before any 200.
        first = await anext(pieces)
        return Stream(
            export.after(first, pieces), media_type="application/json", headers={"Content-Disposition": ATTACHMENT}
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
