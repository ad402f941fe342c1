"""A request id for every HTTP request: the client's ``X-Request-ID`` when it is sane, else a new one.

It is echoed in the response's ``X-Request-ID``, put in problem bodies, and in every log line
written while the request is handled (through a context variable, so even a traceback logged
deep inside carries it).
"""

from __future__ import annotations

import itertools
import re
import secrets
from contextvars import ContextVar

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
# Letters, digits and a few separators, as load balancers and tracing systems generate them;
# anything else could forge log lines or smuggle markup, so it is replaced.
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)

# A new id is this process's random prefix and a count: unique without a system call per
# request (secrets.token_hex reads the kernel's random source every time). An id names a
# request; it guards nothing, so it need not be unpredictable.
_PREFIX = secrets.token_hex(8)
_count = itertools.count(1)


def new_id() -> str:
    return f"{_PREFIX}{next(_count):016x}"


def current() -> str | None:
    """The id of the request being handled, or None outside one."""
    return _current.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        request_id = given.decode() if given is not None and _SANE.fullmatch(given) else new_id()
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, encoded)]
            await send(message)

        token = _current.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
