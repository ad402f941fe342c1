"""The change feed: what changed for the user after a revision they have seen."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId, problem_response
from service.http.field_errors import FieldError
from service.http.problems import problem
from service.sync import queries
from service.sync.schemas import Changes

LIMIT_MAX = 1000
LIMIT_DEFAULT = 500
REVISION_MAX = 2**63 - 1  # PostgreSQL's bigint

GONE = problem_response(
    "`since` is older than the deletions the server still remembers (SYNC_RETENTION_DAYS, 30 by default): "
    "drop the local copy and sync again from `since=0`."
)


class ChangesController(Controller):
    path = "/api/{user_id:str}/changes"
    tags = ("sync",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="Changes since a revision",
        description="Every task changed after revision `since`, in its latest state, and the ids of the tasks "
        "deleted since (moved to the trash or purged), and likewise every list changed and the ids of the lists "
        "deleted, each id at most once, oldest change first. Send the "
        "answer's `revision` as `since` next time; while `has_more`, call again at once. Without `since` (or 0): "
        "every task, and no deletions. Revisions are the user's own, handed out in commit order: nothing "
        "numbered at or below a `revision` you have been sent can appear later. See docs/sync.md.",
        responses={**AUTH_PROBLEMS, 410: GONE},
    )
    async def changes(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        since: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=REVISION_MAX,
                description="The `revision` of the last answer; 0 or absent to start from nothing.",
                examples=[Example(value=0)],
            ),
        ] = 0,
        limit: Annotated[
            int, QueryParameter(ge=1, le=LIMIT_MAX, description="At most this many changes (tasks and deletions).")
        ] = LIMIT_DEFAULT,
    ) -> Changes:
        feed = await queries.changes(db, user_id=user_id, since=since, limit=limit)
        if since > feed.latest:
            raise FieldError(
                "since", f"Expected a revision this service gave you, at most your latest, {feed.latest}", "query"
            )
        if 0 < since < feed.horizon:  # from 0 a client has nothing to miss
            raise problem(
                410,
                f"revision {since} is older than the deletions this service still remembers (from {feed.horizon}): "
                "drop your copy of the tasks and sync again with since=0",
            )
        return Changes(
            revision=feed.revision,
            has_more=feed.has_more,
            tasks=feed.tasks,
            deleted_tasks=feed.deleted,
            lists=feed.lists,
            deleted_lists=feed.deleted_lists,
        )
