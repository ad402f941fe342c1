"""The event stream route: GET /api/{user_id}/events, server-sent events."""

from __future__ import annotations

import asyncio
import time
import weakref
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

RETRY_MS = 1000  # the reconnection delay a client is told (SSE's retry field)
BUSY_RETRY_SECONDS = 5  # Retry-After of a 429: a stream must close first
KEEPALIVE = ServerSentEventMessage(data=None, comment="keep-alive")

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
            int | None,
            HeaderParameter(
                name="Last-Event-ID",
                ge=0,
                description="The `id` of the last event received, when reconnecting.",
                required=False,
            ),
        ] = None,
    ) -> ServerSentEvent:
        live: LiveEvents = request.app.state.events
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
        stream.start(revision)
        if last_event_id is not None and last_event_id != revision:
            stream.changed(revision, always=True)
        events = _events(live.hub, stream, revision, keepalive=live.keepalive_seconds, valid_until=valid_until)
        weakref.finalize(events, live.hub.close, stream)  # also when the stream never starts
        return ServerSentEvent(events, headers={"Cache-Control": "no-store"})


def _changed(revision: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="changed", id=revision, data=_encode(Revision(revision)))


async def _events(
    hub: Hub, stream: Stream, revision: int, *, keepalive: float, valid_until: float
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        yield ServerSentEventMessage(event="ready", id=revision, data=_encode(Revision(revision)), retry=RETRY_MS)
        while True:
            if not stream.wake.is_set():
                left = valid_until - time.time()
                if left <= 0:
                    return  # the token expired: the client reconnects with a fresh one
                try:
                    async with asyncio.timeout(min(keepalive, left)):
                        await stream.wake.wait()
                except TimeoutError:
                    if time.time() < valid_until:
                        yield KEEPALIVE
                    continue
            stream.wake.clear()
            if stream.ended:
                return
            announced = stream.take_revision()
            if announced is not None:
                yield _changed(announced)
            for data in stream.take_reminders():
                yield ServerSentEventMessage(event="reminder", data=data)
    finally:
        hub.close(stream)
