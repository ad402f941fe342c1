"""Unknown query parameters are an error (400), not silently ignored: a typo such as
``?complete=true`` would otherwise return every task and look like a filter that works."""

from __future__ import annotations

from urllib.parse import parse_qsl

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

ALLOWED = "query_parameters"  # the handler's opt key holding the names it reads


def record_allowed_query_parameters(app: Litestar) -> None:
    """Store in each handler's opt the query parameters Litestar will parse for it.

    The OpenAPI routes are left out: Swagger UI's OAuth redirect page takes parameters of its own.
    """
    docs = app.openapi_config.path if app.openapi_config else None
    for route in app.routes:
        if docs and route.path.startswith(docs):
            continue
        for handler, kwargs_model in getattr(route, "route_handler_map", {}).values():
            handler.opt[ALLOWED] = frozenset(param.field_alias for param in kwargs_model.expected_query_params)


class RejectUnknownQueryParameters(ASGIMiddleware):
    """Answers 400 to a query parameter the route's handler does not read (see record_allowed_query_parameters)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        query = scope.get("query_string")
        if query:
            allowed = scope["route_handler"].opt.get(ALLOWED)
            names = {name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
            unknown = sorted(names - allowed) if allowed is not None else []
            if unknown:
                takes = f"this endpoint takes {', '.join(sorted(allowed))}" if allowed else "this endpoint takes none"
                message = f"unknown query parameter; {takes}"
                raise ValidationException(
                    detail=message, extra=[{"key": name, "message": message, "source": "query"} for name in unknown]
                )
        await next_app(scope, receive, send)
