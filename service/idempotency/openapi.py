"""What every write of a user's route documents about Idempotency-Key: the header, the replay marker
on its success, and the 409 and 422 it adds. The layer serves every such route, so this amends them
all in one place rather than each handler declaring it.
"""

from __future__ import annotations

from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)

from service.http.docs import PROBLEM, RETRY_AFTER
from service.http.problems import Problem
from service.idempotency.keys import HEADER, KEY_MAX, KEY_PATTERN, LIFETIME
from service.idempotency.middleware import RETRY_AFTER_SECONDS, KeylessOperation

WRITES = ("post", "put", "patch", "delete")
HOURS = f"{LIFETIME.total_seconds() / 3600:g}"

KEY_DESCRIPTION = f"""\
Makes the write safe to retry: a value unique to this write (a UUID, say), sent again with every retry \
of it. The first request with a key runs; a successful answer (its status, body, `Location` and `ETag`) \
is recorded in the same transaction as the write, so a write that committed never runs twice, even when \
its answer was lost on the way. A repeat within {HOURS} hours with the same method, path, query and body \
(the same JSON value: spacing and key order do not matter) gets that answer again with \
`Idempotent-Replayed: true`, and nothing runs. An error answer is not recorded: the key stays unused, \
and a retry runs afresh. The same key with a different request is 422; while the first request with it \
is still running, 409. Keys belong to the user: another user's identical key is unrelated."""

REPLAYED = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
    description=f"Present on a replay: this is the recorded answer to an earlier request with the same {HEADER}; "
    "nothing ran this time.",
    required=False,
)
SOMETIMES_RETRY_AFTER = OpenAPIHeader(
    schema=RETRY_AFTER.schema, description=f"{RETRY_AFTER.description} Sent when a request with the same {HEADER} runs."
)
STILL_RUNNING = (
    f"A request with the same {HEADER} is still running; nothing was done. Retry after `Retry-After` "
    f"seconds ({RETRY_AFTER_SECONDS}) to get its answer."
)
USED_FOR_ANOTHER_REQUEST = (
    f"The {HEADER} was used in the last {HOURS} hours for a different request (method, path, query or "
    "body); nothing was done. Use a new key for a new request."
)


def say_what_is_enforced(document: OpenAPI) -> None:
    for path, item in (document.paths or {}).items():
        if not path.startswith("/api/"):
            continue
        for method in WRITES:
            operation: Operation | None = getattr(item, method)
            if operation is not None and not isinstance(operation, KeylessOperation):
                _document_keys(operation)


def _document_keys(operation: Operation) -> None:
    operation.parameters = [*(operation.parameters or []), _key_parameter()]
    responses = operation.responses or {}
    for status, response in responses.items():
        if status.startswith("2") and isinstance(response, OpenAPIResponse):
            response.headers = {**(response.headers or {}), "Idempotent-Replayed": REPLAYED}
    _add_problem(responses, "409", STILL_RUNNING, retry_after=True)
    _add_problem(responses, "422", USED_FOR_ANOTHER_REQUEST, retry_after=False)
    operation.responses = dict(sorted(responses.items()))


def _key_parameter() -> Parameter:
    return Parameter(
        name=HEADER,
        param_in=ParamType.HEADER,
        required=False,
        description=KEY_DESCRIPTION,
        schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=KEY_MAX, pattern=KEY_PATTERN),
    )


def _add_problem(
    responses: dict[str, OpenAPIResponse | Reference], status: str, description: str, *, retry_after: bool
) -> None:
    """A problem response for ``status``; where the operation answers it already for another reason, either."""
    existing = responses.get(status)
    if isinstance(existing, OpenAPIResponse):
        existing.description = f"{existing.description} Or: {description}"
        if retry_after:  # the other reason's answer may come without it
            existing.headers = {**(existing.headers or {}), "Retry-After": SOMETIMES_RETRY_AFTER}
        return
    content = {PROBLEM: OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{Problem.__name__}"))}
    headers: dict[str, OpenAPIHeader | Reference] | None = {"Retry-After": RETRY_AFTER} if retry_after else None
    responses[status] = OpenAPIResponse(description=description, content=content, headers=headers)
