"""The tasks routes' OpenAPI documentation: their problems, headers and conditional requests."""

from __future__ import annotations

from typing import Annotated

from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

from service.http.docs import AUTH_PROBLEMS, BODY_PROBLEMS, problem_response

NOT_FOUND = problem_response("No such task for this user.")
TASK_PROBLEMS = {**AUTH_PROBLEMS, 404: NOT_FOUND}
PRECONDITION_FAILED = problem_response(
    "If-Match did not match the task's current ETag (sent in the ETag header); nothing was written."
)
# A write that completes an open occurrence of a series also makes its next (service.tasks.writes).
NOT_COMPLETED = problem_response(
    "Completing this occurrence would make its series' next one past MAX_TASKS_PER_USER, or the task kept "
    "changing while the write ran; nothing was written."
)
WRITE_PROBLEMS = {**BODY_PROBLEMS, 404: NOT_FOUND, 409: NOT_COMPLETED, 412: PRECONDITION_FAILED}
NOT_MODIFIED = ResponseSpec(data_container=None, description="The task still has the ETag given in If-None-Match.")


# Documentation only (the handler sets it); Litestar derives the schema from the value's type.
ETAG = ResponseHeader(
    name="ETag",
    value='"660da8a536a40"',
    description="The task's version; send it back in If-Match to write only if nobody else has since, "
    "or in If-None-Match to skip an unchanged download.",
    documentation_only=True,
)
NEXT_PAGE = ResponseHeader(
    name="Link",
    value='</api/alice/tasks?limit=100&cursor=...>; rel="next"',
    description="Present when there is a next page: its URL, with the same filters and sort.",
    documentation_only=True,
)
CONDITIONAL = (
    "With `If-Match` (the task's ETag), writes only if the task has not changed since; "
    "otherwise 412 and nothing is written."
)
IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='ETag(s) the task must still have, e.g. "660da8a536a40".')
]
IfNoneMatch = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description="ETag(s) of a copy you hold; 304 if still current.")
]

LOCATION = ResponseHeader(
    name="Location",
    value="/api/{user_id}/tasks/{task_id}",
    description="Path of the new task",
    required=True,
    documentation_only=True,
)
