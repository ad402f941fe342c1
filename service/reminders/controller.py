"""The reminders route: what to remind the user of, and when, in a window of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from service.db.pool import InjectedDatabase
from service.http.docs import AUTH_PROBLEMS, PRIVATE, UserId
from service.http.field_errors import FieldError
from service.reminders import queries
from service.reminders.schemas import Reminder
from service.tasks.schemas import DUE_DATE_PATTERN, check_due

DEFAULT_SPAN = timedelta(hours=24)
SPAN_MAX = timedelta(days=31)


def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[from, to), checked: with offsets, at most SPAN_MAX apart; a bad one is a FieldError naming it.
    A window that ends where or before it starts is empty."""
    for name, moment in (("from", start), ("to", end)):
        if moment is not None:
            if moment.tzinfo is None:
                raise FieldError(name, "needs a UTC offset (RFC 3339), e.g. 2026-11-30T17:00:00Z", "query")
            check_due(moment, name, "query")
    start = start or (end - DEFAULT_SPAN if end else datetime.now(UTC))
    end = end or start + DEFAULT_SPAN
    if end - start > SPAN_MAX:
        raise FieldError("to", f"Expected at most {SPAN_MAX.days} days after `from`", "query")
    return start, end


class ReminderController(Controller):
    path = "/api/{user_id:str}/reminders"
    tags = ("tasks",)
    security = ({"BearerToken": []},)
    cache_control = PRIVATE

    @get(
        "/",
        summary="Reminders in a window of time",
        description="The reminders of the user's open tasks whose moment (`due_at` less `minutes_before`) is in "
        "[`from`, `to`), soonest first. By default the next 24 hours; at most 31 days at once (a wider window is "
        "a 400); a `to` at or before `from` is an empty window.",
        responses=AUTH_PROBLEMS,
    )
    async def list_reminders(
        self,
        db: InjectedDatabase,
        user_id: UserId,
        start: Annotated[
            datetime | None,
            QueryParameter(
                name="from",
                description="Start of the window, included (RFC 3339, with an offset); default now.",
                examples=[Example(value="2026-11-30T00:00:00Z")],
                schema_extra={"pattern": DUE_DATE_PATTERN},
            ),
        ] = None,
        end: Annotated[
            datetime | None,
            QueryParameter(
                name="to",
                description="End of the window, excluded; default 24 hours after `from`.",
                examples=[Example(value="2026-12-01T00:00:00Z")],
                schema_extra={"pattern": DUE_DATE_PATTERN},
            ),
        ] = None,
    ) -> list[Reminder]:
        start, end = window(start, end)
        return await queries.list_reminders(db, user_id=user_id, start=start, end=end)
