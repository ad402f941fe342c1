"""Query parameters are read strictly: what Litestar would guess at is a 400 instead.

- An unknown parameter: a typo such as ``?complete=true`` would otherwise return every task
  and look like a filter that works.
- A parameter given twice that takes one value (``?sort=title&sort=-title``): Litestar keeps one.
- A value only a lenient reading accepts. Litestar converts query strings the way msgspec does
  when not strict, so ``overdue=null`` and ``due_before=null`` meant "no filter", ``completed=1``
  meant true and ``limit=5.0`` meant 5. A boolean is ``true`` or ``false``, an integer is
  digits, and a date-time is RFC 3339, as the OpenAPI document says.
- A required parameter that is missing, named like every other refused input.

A value this lets through converts to the same thing either way, so Litestar's parsing stands.
"""

from __future__ import annotations

import re
import types
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, Union, get_args, get_origin
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from service.http.field_errors import FieldError, FieldErrors

RULES = "query_parameters"  # the handler's opt key holding {name: Rule} for the parameters it reads

_INTEGER = re.compile(r"-?[0-9]+")
MISSING = "required parameter is missing"


class Rule(msgspec.Struct, frozen=True):
    repeatable: bool
    required: bool
    problem: Callable[[str], str | None]  # what is wrong with one value, or None


def record_query_parameter_rules(app: Litestar) -> None:
    """Store in each handler's opt a Rule for each query parameter Litestar will parse for it.

    The OpenAPI routes are left out: Swagger UI's OAuth redirect page takes parameters of its own.
    """
    docs = app.openapi_config.path if app.openapi_config else None
    for route in app.routes:
        if docs and route.path.startswith(docs):
            continue
        for handler, kwargs_model in getattr(route, "route_handler_map", {}).values():
            signature = handler.parsed_fn_signature.parameters
            handler.opt[RULES] = {
                param.field_alias: _rule(signature[param.field_name].annotation, param.is_sequence, param.is_required)
                for param in kwargs_model.expected_query_params
            }


def _rule(annotation: Any, is_sequence: bool, is_required: bool) -> Rule:
    kind = _without_none(annotation)
    if is_sequence:
        (kind,) = get_args(kind) or (str,)
    # Text, and choices, Litestar already reads as strictly as these would.
    return Rule(is_sequence, is_required, _CHECKS.get(kind, _anything))


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _boolean(value: str) -> str | None:
    return None if value in ("true", "false") else "expected true or false"


def _integer(value: str) -> str | None:
    return None if _INTEGER.fullmatch(value) else "expected an integer"


def _date_time(value: str) -> str | None:
    try:
        msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return "expected an RFC 3339 date-time with an offset, e.g. 2026-11-30T17:00:00Z"
    return None


def _anything(value: str) -> None:
    return None


_CHECKS: dict[Any, Callable[[str], str | None]] = {bool: _boolean, int: _integer, datetime: _date_time}


class StrictQueryParameters(ASGIMiddleware):
    """Answers 400 to a query parameter its handler does not read, or not as it reads it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        query = scope.get("query_string") or b""
        rules: dict[str, Rule] | None = scope["route_handler"].opt.get(RULES)
        if rules is not None:
            errors = _errors(parse_qsl(query.decode("latin-1"), keep_blank_values=True), rules)
            if errors:
                raise FieldErrors(errors)
        await next_app(scope, receive, send)


def _errors(pairs: list[tuple[str, str]], rules: dict[str, Rule]) -> list[FieldError]:
    counts = Counter(name for name, _ in pairs)
    unknown = sorted(counts.keys() - rules.keys())
    if unknown:
        takes = f"this endpoint takes {', '.join(sorted(rules))}" if rules else "this endpoint takes none"
        return [FieldError(name, f"unknown query parameter; {takes}", "query") for name in unknown]
    errors: dict[str, str] = {}
    for name, value in pairs:
        rule = rules[name]
        if not rule.repeatable and counts[name] > 1:
            errors[name] = "given more than once; give it once"
        elif name not in errors and (wrong := rule.problem(value)) is not None:
            errors[name] = wrong
    errors = errors or {name: MISSING for name, rule in rules.items() if rule.required and name not in counts}
    return [FieldError(name, message, "query") for name, message in errors.items()]
