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
The query string is parsed once: this reads ``request.query_params``, which Litestar keeps on
the request and reuses when it hands the handler its arguments.

Which parameters a handler reads is derived from its signature, through Litestar's public API,
by the rules Litestar itself follows; ``tests/http/test_query.py`` pins the result for the list
and checks every route against the OpenAPI document, which Litestar derives on its own.
"""

from __future__ import annotations

import re
import types
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import msgspec
from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.di import Provide
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.typing import FieldDefinition

from service.http.field_errors import FieldError, FieldErrors

_INTEGER = re.compile(r"-?[0-9]+")
MISSING = "required parameter is missing"


class Rule(msgspec.Struct, frozen=True):
    """How one query parameter may be given."""

    repeatable: bool
    required: bool
    problem: Callable[[str], str | None]  # what is wrong with one value, or None


def rules_for(handler: HTTPRouteHandler, path_parameters: Collection[str]) -> dict[str, Rule]:
    """A Rule for each query parameter Litestar reads for ``handler``, by the name the URL gives it."""
    fields = {**handler.resolve_layered_parameters(), **handler.parsed_fn_signature.parameters}
    rules: dict[str, Rule] = {}
    for name, rule in _query_parameters(fields, handler.resolve_dependencies(), path_parameters):
        if (earlier := rules.get(name)) is not None:  # a dependency reads it too: required if either needs it
            rule = msgspec.structs.replace(rule, required=rule.required or earlier.required)
        rules[name] = rule
    return rules


def _query_parameters(
    fields: Mapping[str, FieldDefinition], providers: Mapping[str, Provide], path_parameters: Collection[str]
) -> Iterator[tuple[str, Rule]]:
    for name, field in fields.items():
        if name in RESERVED_KWARGS or name in path_parameters:
            continue
        if provider := providers.get(name):  # a dependency's own parameters are read for the handler too
            yield from _query_parameters(provider.parsed_fn_signature.parameters, providers, path_parameters)
            continue
        kwarg = field.kwarg_definition if isinstance(field.kwarg_definition, ParameterKwarg) else None
        if kwarg is not None and kwarg.param_type != ParamType.QUERY:
            continue  # a header, a cookie, or a path parameter of another route
        yield (kwarg.name if kwarg is not None and kwarg.name else name), _rule(field)


def _rule(field: FieldDefinition) -> Rule:
    default = field.default if field.has_default else None
    required = field.is_required and default is None and not field.is_optional and not field.is_any
    kind = _without_none(field.annotation)
    if field.is_non_string_sequence:
        (kind,) = get_args(kind) or (str,)
    # Text, and choices, Litestar already reads as strictly as these would.
    return Rule(field.is_non_string_sequence, required, _CHECKS.get(kind, _anything))


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


def _uuid(value: str) -> str | None:
    try:
        msgspec.convert(value, UUID)
    except msgspec.ValidationError:
        return "expected a UUID, e.g. 3f0a6f4e-8a8e-4c8a-9a7a-2d7f0c1b9e11"
    return None


def _anything(value: str) -> None:
    return None


_CHECKS: dict[Any, Callable[[str], str | None]] = {bool: _boolean, int: _integer, datetime: _date_time, UUID: _uuid}


def check(request: Request[Any, Any, Any], rules: Mapping[str, Rule], required: Collection[str]) -> None:
    """FieldErrors naming each parameter the request gives that the handler does not read as given."""
    if not request.scope.get("query_string"):
        if required:
            raise FieldErrors(FieldError(name, MISSING, "query") for name in required)
        return
    if errors := _errors(list(request.query_params.multi_items()), rules, required):
        raise FieldErrors(errors)


def _errors(pairs: list[tuple[str, str]], rules: Mapping[str, Rule], required: Collection[str]) -> list[FieldError]:
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
    errors = errors or {name: MISSING for name in required if name not in counts}
    return [FieldError(name, message, "query") for name, message in errors.items()]
