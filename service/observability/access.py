"""What every HTTP request leaves behind: an access log line and request metrics.

Both sit in front of the Litestar app (service.asgi), outside its exception handling, so they see
the status the client got: a 401 from the auth middleware, a 404 or 405 for a request that matches
no route, a 408 or 413 for a body too slow or too large. (Litestar's own Prometheus middleware
sits inside and counts a 401 raised by authentication as a 200.)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.metrics import Metrics

access_log = logging.getLogger("service.access")

MAX_REMEMBERED_USERS = 4096


class ObserveRequests:
    """One access line per request (method, route template, status, duration) and the request metrics.

    The route template (``/api/{user_id}/tasks``), never the path, so lines and series group by
    endpoint and carry no user id. An authenticated request's line has ``user``: an HMAC of the
    user id under ``user_key``, so one user's requests can be followed without the log holding
    who they are. Instances that share a key (LOG_USER_KEY) give a user the same reference.
    With ``metrics`` None, requests are not measured. A user's reference is computed once and
    remembered (up to MAX_REMEMBERED_USERS of them): a client sends many requests as one user.
    """

    def __init__(self, app: ASGIApp, *, log: bool, metrics: Metrics | None, user_key: str = ""):
        self.app = app
        self.log = log
        self.metrics = metrics
        self.user_key = (user_key or secrets.token_hex(32)).encode()
        self._references: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        log = self.log and access_log.isEnabledFor(logging.INFO)
        metrics = self.metrics
        if scope["type"] != ScopeType.HTTP or (not log and metrics is None):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            route = scope.get("path_template") or "(no route)"
            if metrics is not None:
                metrics.observe_request(method, route, status, seconds)
            if log:
                fields = {"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)}
                if isinstance(user := scope.get("user"), str):
                    fields["user"] = self._references.get(user) or self._reference(user)
                access_log.info("%s %s %d", method, route, status, extra={"fields": fields})

    def _reference(self, user: str) -> str:
        if len(self._references) >= MAX_REMEMBERED_USERS:
            self._references.clear()
        reference = self._references[user] = hmac.new(self.user_key, user.encode(), hashlib.sha256).hexdigest()[:16]
        return reference
