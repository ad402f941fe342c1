"""OPTIONS names every method of the path in its Allow header.

Litestar 2 makes a path's OPTIONS handler when the path's first handler is registered, and its
Allow keeps only that handler's methods: ``OPTIONS /api/alice/tasks`` said ``OPTIONS, POST``
though GET and DELETE answer there too (litestar#4169, fixed in Litestar 3). The finished route
table has them all, so the header is rewritten from it on the way out.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def allow_every_method(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: only an OPTIONS answer that already carries Allow is changed."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    handler = scope.get("route_handler")
    if "allow" not in headers or handler is None:
        return
    for route in scope["litestar_app"].routes:
        if isinstance(route, HTTPRoute) and route.path in handler.paths:
            headers["Allow"] = ", ".join(sorted(route.methods))
            return
