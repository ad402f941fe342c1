"""What every user's route shares in the OpenAPI document: its path parameter, cache rule and problems.

The problems are those of the layers a request passes (``service.asgi``), so a route documents
every status the stack can answer for it by taking the set for the layers it passes:

- ``ANY_ROUTE_PROBLEMS``: every route. The server refuses an oversized head (414, 431) before
  any routing, so no operation is spared them; and StrictInput refuses a query parameter the
  handler does not take (400), also on routes that take none.
- ``AUTH_PROBLEMS``: a route behind the bearer token, which is also rate limited per user (429),
  and whose handler uses the database (503).
- ``BODY_PROBLEMS``: such a route that reads a JSON body (408, 413, 415).

A resource adds its own (404, 409, 412) beside them. tests/http/test_openapi.py fails when an
operation lacks a status its layers answer. They are documented whatever the settings (429 also
with RATE_LIMIT_PER_MINUTE=0), so every deployment serves one document and a client generated
from it fits them all. A 500 is a bug, not part of any operation's contract, and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar.datastructures import CacheControlHeader
from litestar.openapi.spec import OpenAPIHeader, OpenAPIType, Schema
from litestar.params import FromPath

from service.http.head_limits import MAX_HEADER_BYTES, MAX_URL_BYTES
from service.http.openapi import HeadedResponseSpec
from service.http.problems import Problem

UserId = FromPath[str]
# One user's data: no shared cache (a proxy, the browser's disk) may keep a copy.
PRIVATE = CacheControlHeader(no_store=True)
PROBLEM = "application/problem+json"


def problem_response(description: str, headers: Mapping[str, OpenAPIHeader] | None = None) -> HeadedResponseSpec:
    return HeadedResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM,
        generate_examples=False,
        headers=headers or {},
    )


def header(description: str, schema: Schema) -> OpenAPIHeader:
    """A header the response always carries."""
    return OpenAPIHeader(schema=schema, description=description, required=True)


def at_least(least: int) -> Schema:
    return Schema(type=OpenAPIType.INTEGER, minimum=least)


RETRY_AFTER = header("Seconds to wait before sending the request again.", at_least(1))
# What service.http.rate_limit.Policy.headers sends with a refusal.
RATE_LIMITED = {
    "Retry-After": RETRY_AFTER,
    "RateLimit-Policy": header(
        "The user's policy: `<burst>;w=<seconds a spent burst takes to refill>`, e.g. `60;w=6`.",
        Schema(type=OpenAPIType.STRING, pattern=r"^[0-9]+;w=[0-9]+$"),
    ),
    "RateLimit-Limit": header("Requests the user may send at once (the burst).", at_least(1)),
    "RateLimit-Remaining": header("Requests the user may still send at once.", at_least(0)),
    "RateLimit-Reset": header("Seconds until the user may send a whole burst again.", at_least(0)),
}

ANY_ROUTE_PROBLEMS = {
    400: problem_response("The request is malformed or fails validation; `errors` names each bad field."),
    414: problem_response(
        f"The URL is longer than {MAX_URL_BYTES:,} bytes; refused before routing, and the connection closed."
    ),
    431: problem_response(
        f"The request headers are larger than {MAX_HEADER_BYTES:,} bytes in all; "
        "refused before routing, and the connection closed."
    ),
}
AUTH_PROBLEMS = {
    **ANY_ROUTE_PROBLEMS,
    401: problem_response(
        "Missing, malformed, badly signed or expired bearer token.",
        {"WWW-Authenticate": header("The Bearer challenge (RFC 6750).", Schema(type=OpenAPIType.STRING))},
    ),
    403: problem_response("The token belongs to a different user than the one in the path."),
    429: problem_response(
        "The user sent more requests than the rate limit allows (RATE_LIMIT_PER_MINUTE, in bursts of at "
        "most RATE_LIMIT_BURST); nothing was done. Retry after `Retry-After` seconds. Every other answer "
        "past the token check (all but 401, 403, 414 and 431) carries the `RateLimit-*` headers too, "
        "so a client can slow down before it is refused.",
        RATE_LIMITED,
    ),
    503: problem_response(
        "The database is unavailable; retry after `Retry-After` seconds.", {"Retry-After": RETRY_AFTER}
    ),
}
BODY_PROBLEMS = {
    **AUTH_PROBLEMS,
    408: problem_response("The request body did not arrive within BODY_TIMEOUT_SECONDS; the connection is closed."),
    413: problem_response("The request body is larger than the service accepts (MAX_BODY_BYTES)."),
    415: problem_response("The request body is not JSON."),
}
