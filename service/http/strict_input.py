"""Every request's input read strictly and once, through one Litestar plugin.

- Each route, as Litestar registers it, gets from its handler's signature what it accepts:
  its query parameters (``service.http.query``) and whether it takes a JSON body.
- Before the handler is called (Litestar's ``before_request``, which is given the very request
  Litestar then reads the handler's arguments from), the query string and the body's framing
  are checked: an unknown or malformed parameter, a body that is not JSON or is missing.
- A JSON body is decoded once, strictly, into the handler's type by ``StrictJSON``, the DTO
  this plugin gives every handler that takes ``data``.

A layer that sets its own ``before_request`` or ``dto`` would bypass this; registering such a
route fails, naming it, rather than serving it leniently.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request
from litestar.config.app import AppConfig
from litestar.dto import AbstractDTO
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.plugins import InitPlugin, ReceiveRoutePlugin, SerializationPlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.typing import FieldDefinition

from service.http import body, query

ACCEPTS = "strict_input"  # the handler's opt key holding what it Accepts


class Accepts(msgspec.Struct, frozen=True):
    """What one handler takes from a request: its query parameters, and a JSON body or not."""

    parameters: dict[str, query.Rule]
    required_parameters: tuple[str, ...]
    body: Literal["required", "optional"] | None


async def check_input(request: Request[Any, Any, Any]) -> None:
    """400 (or 415) before the handler runs when the request gives what its handler does not take."""
    accepts: Accepts | None = request.route_handler.opt.get(ACCEPTS)
    if accepts is None:  # the OpenAPI routes: Swagger UI's OAuth redirect page takes parameters of its own
        return
    query.check(request, accepts.parameters, accepts.required_parameters)
    if accepts.body is not None:
        body.check_framing(request, optional=accepts.body == "optional")


class StrictInput(InitPlugin, ReceiveRoutePlugin, SerializationPlugin):
    """The plugin: installs ``check_input``, records what each route accepts, supplies ``StrictJSON``."""

    def __init__(self) -> None:
        self._docs: str | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if app_config.before_request is not None:
            raise ImproperlyConfiguredException("StrictInput checks input in before_request; the app sets its own")
        app_config.before_request = check_input
        self._docs = app_config.openapi_config.path if app_config.openapi_config else None
        return app_config

    def supports_type(self, field_definition: FieldDefinition) -> bool:
        return field_definition.name == "data"  # a request body, never a response

    def create_dto_for_type(self, field_definition: FieldDefinition) -> type[AbstractDTO[Any]]:
        return body.strict_dto(field_definition.annotation)

    def receive_route(self, route: BaseRoute) -> None:
        docs = self._docs
        if not isinstance(route, HTTPRoute) or (docs and (route.path == docs or route.path.startswith(f"{docs}/"))):
            return
        for handler in route.route_handlers:
            handler.opt[ACCEPTS] = _accepts(handler, route)


def _accepts(handler: HTTPRouteHandler, route: HTTPRoute) -> Accepts:
    if handler.resolve_before_request() is not check_input:
        raise ImproperlyConfiguredException(f"{handler} sets its own before_request, which would skip StrictInput")
    rules = query.rules_for(handler, route.path_parameters)
    required = tuple(name for name, rule in rules.items() if rule.required)
    return Accepts(rules, required, _body(handler))


def _body(handler: HTTPRouteHandler) -> Literal["required", "optional"] | None:
    data = handler.parsed_data_field
    if data is None:
        return None
    dto = handler.resolve_data_dto()
    if not (isinstance(dto, type) and issubclass(dto, body.StrictJSON)):
        raise ImproperlyConfiguredException(f"{handler} decodes its body with {dto}, not strictly")
    return "optional" if data.is_optional else "required"
