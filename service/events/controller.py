"""The event stream route: GET /api/{user_id}/events, server-sent events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.exceptions import HTTPException
from litestar.params import HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS, HTTP_503_SERVICE_UNAVAILABLE

from service.db.pool import InjectedDatabase
from service.events import queries
from service.events.hub import Closing, Hub, Stream, TooManyStreams
from service.events.live import LiveEvents
from service.events.schemas import Revision
from service.http.docs import AUTH_PROBLEMS, RATE_LIMITED, RETRY_AFTER, UserId, problem_response
from service.http.field_errors import FieldError

REVISION_PATTERN = r"^[0-9]{1,18}$"
RETRY_MS = 1000  # the reconnection delay a client is told (SSE's retry field)
BUSY_RETRY_SECONDS = 5  # Retry-After of a 429: a stream must close first
# Lines end in LF, as most servers' do: simpler for a client's own parser than Litestar's CRLF default.
EOL = "\n"
KEEPALIVE = ServerSentEventMessage(data=None, comment="keep-alive", sep=EOL)

_encode = msgspec.json.Encoder().encode

DESCRIPTION = """\
A server-sent events stream (`text/event-stream`), held open. Events:

- `ready`, on connect: `data: {"revision": R}`, the user's revision now (its `id` is R too);
- `changed`, after writes of the user commit, through any instance: `id: n`, `data: {"revision": n}`.
  Catch up with `GET /changes?since=<your revision>`. Several writes in a burst may come as one
  `changed`, with the latest revision;
- `reminder`, when a reminder is due: `data:` the object `GET /reminders` lists. Each reminder fires
  once, however many instances run, and never for a task completed, deleted or moved to another due
  time before its moment; one set for a moment already past does not fire;
- a comment line (`: keep-alive`) at least every `EVENTS_KEEPALIVE_SECONDS` (15) seconds.

Reconnect with `Last-Event-ID: n` (the last `id` seen): if the user's revision is no longer n, a
`changed` follows `ready` at once. The stream ends when the token expires (reconnect with a new
one), and when the instance shuts down (reconnect: another answers). `EventSource` cannot send an
`Authorization` header: use a fetch-based client (README, "Live events"). At most
`EVENTS_MAX_STREAMS_PER_USER` (10) streams per user on each instance: one more is 429.
"""


class EventController(Controller):
    path = "/api/{user_id:str}/events"
    tags = ("events",)
    security = ({"BearerToken": []},)

    @get(
        "/",
        summary="Live events: changes and reminders, as server-sent events",
        description=DESCRIPTION,
        media_type="text/event-stream",
        response_description="Server-sent events, as above, until the client leaves, the token expires or the "
        "instance stops.",
        responses={
            **AUTH_PROBLEMS,
            429: problem_response(
                "The user already holds EVENTS_MAX_STREAMS_PER_USER streams on this instance (close one), or "
                "sent more requests than the rate limit allows. Retry after `Retry-After` seconds.",
                RATE_LIMITED,
            ),
            503: problem_response(
                "The instance is shutting down (reconnect: another answers), or the database is unavailable; "
                "retry after `Retry-After` seconds.",
                {"Retry-After": RETRY_AFTER},
            ),
        },
    )
    async def stream_events(
        self,
        request: Request[str, str, Any],
        db: InjectedDatabase,
        user_id: UserId,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID",
                description="The `id` of the last event received, when reconnecting: a revision.",
                required=False,
                schema_extra={"pattern": REVISION_PATTERN},  # checked by _revision, to name the header
            ),
        ] = None,
    ) -> ServerSentEvent:
        live: LiveEvents = request.app.state.events
        resumed = _revision(last_event_id)
        try:
            stream = live.hub.open(user_id)
        except TooManyStreams:
            raise HTTPException(
                status_code=HTTP_429_TOO_MANY_REQUESTS,
                detail=f"this user already has {live.hub.max_per_user} event streams open here; close one first",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            ) from None
        except Closing:
            raise HTTPException(
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                detail="this instance is shutting down; reconnect",
                headers={"Retry-After": "1"},
            ) from None
        try:
            revision = await queries.current_revision(db, user_id=user_id)
            valid_until = await live.verifier.valid_until(request.auth)
        except BaseException:
            live.hub.close(stream)
            raise
        stream.start(revision, valid_until=valid_until)
        if resumed is not None and resumed != revision:
            stream.changed(revision, always=True)
        return ServerSentEvent(_events(live.hub, stream, revision), headers={"Cache-Control": "no-store"})


def _revision(last_event_id: str | None) -> int | None:
    """The revision a reconnecting client saw last; None for a first connection (or an empty header)."""
    if not last_event_id:
        return None
    if not re.fullmatch(REVISION_PATTERN, last_event_id):
        raise FieldError("Last-Event-ID", "must be the id of an event this stream sent: a revision", "header")
    return int(last_event_id)


def _changed(revision: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="changed", id=revision, data=_encode(Revision(revision)), sep=EOL)


async def _events(hub: Hub, stream: Stream, revision: int) -> AsyncIterator[ServerSentEventMessage]:
    try:
        yield ServerSentEventMessage(
            event="ready", id=revision, data=_encode(Revision(revision)), retry=RETRY_MS, sep=EOL
        )
        while True:
            await stream.wait()
            if stream.ended:
                return  # the token expired (the client reconnects with a fresh one), or the process stops
            if stream.take_keepalive():
                yield KEEPALIVE
            announced = stream.take_revision()
            if announced is not None:
                yield _changed(announced)
            for data in stream.take_reminders():
                yield ServerSentEventMessage(event="reminder", data=data, sep=EOL)
    finally:
        hub.close(stream)
