"""Idempotency-Key: a write that committed is never run twice, even when its answer was lost.

For a POST, PUT, PATCH or DELETE of an authenticated user that sends the header:

1. the key must be 1 to 255 visible ASCII characters (400 naming the header otherwise);
2. the body is read as the handler would read it (Litestar's ``Request.body``, which keeps it
   for the handler: 413 past MAX_BODY_BYTES, and BodyDeadline times it), and the request's
   fingerprint taken (``keys.fingerprint``);
3. in one transaction on one pooled connection, the (user, key) advisory lock is taken (409 with
   ``Retry-After`` while another request holds it) and the key's answer looked up:
   - recorded within 24 h for the same fingerprint: replayed, with ``Idempotent-Replayed: true``;
     nothing runs;
   - recorded for another fingerprint: 422;
   - none (or expired): the handler runs with its ``db`` bound to this transaction
     (``PinnedDatabase``) and its answer held back. A 2xx is recorded, then everything commits,
     and only then is the answer sent; if the commit fails, a 503 goes instead. Any other answer
     rolls the transaction back and is sent as it is: the key stays unused, so a retry runs afresh.

A request without the header passes through untouched: no statement, nothing held back. So does
one to a route whose operation is a ``KeylessOperation``: a write safe to repeat as it is, whose
recorded answer would be a row it must not leave (erasing an account: service.account).

Every answer of this layer's own (400, 409, 422, 413, 503) goes out through the route's exception
handlers (service.http.problems) and the ``send`` it was given, as a handler's error would, so it
carries the rate limit's headers like any other answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from litestar import Request
from litestar.openapi.spec import Operation
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from service.db.pool import BOUND_DATABASE, Database, PinnedDatabase
from service.http.problems import problem
from service.idempotency import keys, queries
from service.idempotency.answers import Buffered, Replay

log = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER_SECONDS = "1"  # a write takes milliseconds: by then the first has answered

STILL_RUNNING = f"a request with this {keys.HEADER} is still running; retry after Retry-After seconds to get its answer"
USED_FOR_ANOTHER_REQUEST = (
    f"this {keys.HEADER} was used for a different request (method, path, query or body) in the last "
    f"{keys.LIFETIME.total_seconds() / 3600:g} hours; send a new key with a new request"
)


@dataclass
class KeylessOperation(Operation):
    """The operation of a route this layer lets through with its key unused and unrecorded."""


def _keyless(scope: Scope) -> bool:
    operation = getattr(scope.get("route_handler"), "operation_class", None)
    return operation is not None and issubclass(operation, KeylessOperation)


class _NotRecorded(Exception):
    """The handler's answer is not a 2xx: roll back what it did, record nothing (not an error)."""


class IdempotencyMiddleware:
    """Runs a keyed write at most once per key and user, and replays its answer to a repeat.

    A plain ASGI layer, which Litestar takes as route middleware as it is: a request without a key
    costs a few comparisons and a look at its headers, without the bypass checks of Litestar's
    ``ASGIMiddleware`` (every route here is HTTP, none excludes it).
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        write = cast("HTTPScope", scope).get("method") in WRITES
        if (
            not write
            or not (sent := keys.sent_keys(scope["headers"]))
            or not isinstance(user := scope.get("user"), str)
            or _keyless(scope)
        ):
            await self.app(scope, receive, send)  # not a keyed write; or one without a user, which no route has
            return
        try:
            answer = await self._answer_once(scope, receive, sent, user)
        except Exception as exc:  # nothing has been sent yet: answer it as the route would
            await _answer_error(exc, scope, receive, send)
            return
        await answer.send_to(send)

    async def _answer_once(self, scope: Scope, receive: Receive, sent: list[bytes], user: str) -> Buffered | Replay:
        key = keys.key_of(sent)
        request: Request[Any, Any, Any] = Request(scope, receive)
        body = await request.body()  # kept in the scope: the handler reads this, not the client again
        fingerprint = keys.fingerprint(request.method, scope["path"], scope["query_string"], body)
        database: Database = request.app.state.db
        state = scope.setdefault("state", {})
        held = Buffered()
        try:
            async with database.transaction() as tx:
                if not await queries.lock_key(tx, user_id=user, key=key):
                    raise problem(409, STILL_RUNNING, headers={"Retry-After": RETRY_AFTER_SECONDS})
                recorded = await queries.recorded_answer(tx, user_id=user, key=key, within=keys.LIFETIME)
                if recorded is not None:
                    if recorded.fingerprint != fingerprint:
                        raise problem(422, USED_FOR_ANOTHER_REQUEST)
                    return Replay(recorded)
                state[BOUND_DATABASE] = PinnedDatabase(database, tx)
                await self.app(scope, receive, held)
                if not held.succeeded:
                    raise _NotRecorded
                answer = held.recorded(fingerprint)
                if not await queries.record_answer(tx, user_id=user, key=key, answer=answer, replacing=keys.LIFETIME):
                    # The key's lock rules this out; should it happen, the write must not commit twice.
                    log.error("an answer was recorded under this request's key while it held the key's lock")
                    raise problem(409, STILL_RUNNING, headers={"Retry-After": RETRY_AFTER_SECONDS})
        except _NotRecorded:
            pass
        finally:
            state.pop(BOUND_DATABASE, None)
        return held


async def _answer_error(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """``exc`` answered by the route's exception handler for it, the one its handler's error would get."""
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    handlers = request.route_handler.resolve_exception_handlers()
    handler = next((handlers[kind] for kind in type(exc).__mro__ if kind in handlers), None)
    if handler is None:
        raise exc
    response = handler(request, exc)
    await response.to_asgi_response(None, request)(scope, receive, send)
