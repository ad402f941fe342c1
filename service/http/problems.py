"""One error shape everywhere: RFC 9457 problem details, through Litestar's plugin."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import ExceptionHandlersMap

from service.observability import request_id
from service.observability.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
ERROR_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

# Errors that mean "the database is not there right now", not "this request is wrong":
# the server went away or is restarting, a statement hit statement_timeout, or no pooled
# connection was free in time.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    ConnectionError,
    FileNotFoundError,  # over a Unix socket: a stopped server has removed its socket file
    socket.gaierror,
    asyncio.TimeoutError,
)


class Problem(msgspec.Struct, omit_defaults=True):
    """An error body (RFC 9457). ``errors`` lists each offending input of a validation error;
    ``request_id`` is the response's X-Request-ID, to quote when reporting a problem."""

    status: int
    title: str
    detail: str
    errors: list[dict[str, Any]] | None = None
    request_id: str | None = None


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None
) -> ProblemDetailsException:
    """The one way an error body is made here: RFC 9457 fields, plus the request's id.

    An error is about one request: no cache keeps it, and no browser reads it as anything but JSON.
    """
    return ProblemDetailsException(
        status_code=status,
        title=HTTPStatus(status).phrase,
        detail=detail,
        headers={**ERROR_HEADERS, **(headers or {})},
        extra={**(extra or {}), "request_id": request_id.current()},
    )


def bad_parameter(key: str, message: str, source: str = "query") -> ValidationException:
    """A 400 naming one bad input, shaped like Litestar's own validation errors."""
    return ValidationException(detail=message, extra=[{"key": key, "message": message, "source": source}])


# msgspec names the offending field in its message; lift it into the error's "key".
_FIELD_IN_MESSAGE = (
    (re.compile(r"^(?P<message>.*) - at `\$\.(?P<field>[^`]+)`$"), None),
    (re.compile(r"^Object missing required field `(?P<field>[^`]+)`$"), "required field is missing"),
    (re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$"), "unknown field"),
)


def _name_the_field(error: Any) -> Any:
    if not isinstance(error, dict) or error.get("key") != "data":  # "data" is Litestar's name for the body
        return error
    message = str(error.get("message", ""))
    for pattern, fixed_message in _FIELD_IN_MESSAGE:
        if match := pattern.match(message):
            return {**error, "key": match["field"], "message": fixed_message or match["message"]}
    return {**error, "key": "body"}


# Litestar reports a missing parameter in its detail only; list it as a field error like the rest.
_MISSING_PARAMETER = re.compile(r"^Missing required (?P<source>\w+) parameter '(?P<field>[^']+)'")


def _problem(exc: HTTPException) -> ProblemDetailsException:
    detail, extra = exc.detail, None
    if isinstance(exc, ValidationException) and not exc.extra and (match := _MISSING_PARAMETER.match(detail)):
        exc.extra = [{"key": match["field"], "message": "required parameter is missing", "source": match["source"]}]
    if isinstance(exc, ValidationException) and exc.extra:
        errors = exc.extra if isinstance(exc.extra, list) else [exc.extra]
        errors = [_name_the_field(error) for error in errors]
        extra = {"errors": errors}
        # Litestar's detail only names the route; say what is wrong.
        detail = "; ".join(f"{error.get('key', 'body')}: {error.get('message')}" for error in errors)
    return problem(exc.status_code, detail, headers=exc.headers, extra=extra)


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    metrics: Metrics = request.app.state.metrics  # the app's own (service.app.create_app)
    metrics.database_unavailable.labels(type(exc).__name__).inc()
    log.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
    return problem(
        503, "the database is unavailable; try again shortly", headers={"Retry-After": RETRY_AFTER_SECONDS}
    ).to_response(request)


def _unstorable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Every input is checked for NUL before it reaches SQL; this is the net under those checks,
    # so a missed one is still the client's 400, and a warning here says which route missed it.
    log.warning("text with NUL reached the database during %s %s: %r", request.method, request.url.path, exc)
    return problem(400, "a text value holds a NUL character, which cannot be stored").to_response(request)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "the server failed to handle this request; it has been logged").to_response(request)


problem_details = ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map={HTTPException: _problem}))

exception_handlers: ExceptionHandlersMap = {
    **{exc_type: _database_unavailable for exc_type in DATABASE_UNAVAILABLE},
    asyncpg.CharacterNotInRepertoireError: _unstorable_text,
    Exception: _internal_error,
}
