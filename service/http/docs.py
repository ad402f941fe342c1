"""What every user's route shares in the OpenAPI document: its path parameter, cache rule and problems."""

from __future__ import annotations

from litestar.datastructures import CacheControlHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from service.http.problems import Problem

UserId = FromPath[str]
# One user's data: no shared cache (a proxy, the browser's disk) may keep a copy.
PRIVATE = CacheControlHeader(no_store=True)
PROBLEM = "application/problem+json"


def problem_response(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM, generate_examples=False)


AUTH_PROBLEMS = {
    400: problem_response("The request is malformed or fails validation; `errors` names each bad field."),
    401: problem_response("Missing, malformed, badly signed or expired bearer token."),
    403: problem_response("The token belongs to a different user than the one in the path."),
    503: problem_response("The database is unavailable; retry after `Retry-After` seconds."),
}
BODY_PROBLEMS = {
    **AUTH_PROBLEMS,
    413: problem_response("The request body is larger than the service accepts."),
    415: problem_response("The request body is not JSON."),
}
