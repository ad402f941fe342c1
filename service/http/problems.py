"""One error shape everywhere: RFC 9457 problem details, through Litestar's plugin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import ExceptionHandlersMap

from service.db.pool import DATABASE_UNAVAILABLE
from service.http.field_errors import FieldError, FieldErrors, describe
from service.observability import request_id
from service.observability.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
ERROR_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


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


def _invalid(errors: Sequence[FieldError]) -> ProblemDetailsException:
    """The one place refused input becomes a problem body: each field in ``errors``, all in ``detail``."""
    return problem(
        400,
        describe(errors),
        extra={"errors": [{"key": error.key, "message": error.message, "source": error.source} for error in errors]},
    )


def _field_error(exc: FieldError) -> ProblemDetailsException:
    return _invalid([exc])


def _field_errors(exc: FieldErrors) -> ProblemDetailsException:
    return _invalid(exc.errors)


def _problem(exc: HTTPException) -> ProblemDetailsException:
    if isinstance(exc, ValidationException) and (errors := _from_litestar(exc)):
        return _invalid(errors)
    return problem(exc.status_code, exc.detail, headers=exc.headers)


def _from_litestar(exc: ValidationException) -> list[FieldError]:
    """Litestar's own validation errors (a path or query parameter it converts), as field errors.

    Litestar lists them as data: ``{"key", "message", "source"}``. Only a parameter that is not
    in the URL lacks a source, and Litestar reads every parameter it cannot place from the query.
    Its ``data`` is the body, which reaches it only when a chunked body turns out empty.
    """
    listed = exc.extra if isinstance(exc.extra, list) else [exc.extra] if isinstance(exc.extra, dict) else []
    return [
        FieldError(
            None if error.get("key") == "data" else error.get("key"),
            str(error.get("message", "")),
            error.get("source", "query"),
        )
        for error in listed
        if isinstance(error, dict)
    ]


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    metrics: Metrics = request.app.state.metrics  # the app's own (service.app.create_app)
    metrics.database_unavailable.labels(type(exc).__name__).inc()
    log.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
    return problem(
        503, "the database is unavailable; try again shortly", headers={"Retry-After": RETRY_AFTER_SECONDS}
    ).to_response(request)


def _deadlock(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The service's own writes lock a user's rows in one order (sql/tasks.sql), so they never
    # deadlock each other; SQL run by hand beside them can. PostgreSQL rolled this request back.
    log.warning("deadlock during %s %s, rolled back: %r", request.method, request.url.path, exc)
    return problem(
        503,
        "the request met a concurrent change and was rolled back; nothing was written: retry",
        headers={"Retry-After": "1"},
    ).to_response(request)


def _unstorable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Every input is checked for NUL before it reaches SQL; this is the net under those checks,
    # so a missed one is still the client's 400, and a warning here says which route missed it.
    log.warning("text with NUL reached the database during %s %s: %r", request.method, request.url.path, exc)
    return problem(400, "a text value holds a NUL character, which cannot be stored").to_response(request)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "the server failed to handle this request; it has been logged").to_response(request)


problem_details = ProblemDetailsPlugin(
    ProblemDetailsConfig(
        exception_to_problem_detail_map={
            HTTPException: _problem,
            FieldError: _field_error,
            FieldErrors: _field_errors,
        }
    )
)

exception_handlers: ExceptionHandlersMap = {
    **{exc_type: _database_unavailable for exc_type in DATABASE_UNAVAILABLE},
    asyncpg.CharacterNotInRepertoireError: _unstorable_text,
    asyncpg.DeadlockDetectedError: _deadlock,
    Exception: _internal_error,
}
