"""Where Litestar's generated OpenAPI document says less than the code enforces, say it.

Litestar drops two things our Structs enforce: ``forbid_unknown_fields`` (a body with another
field is a 400, so the schema must not allow additional properties) and the constraints on the
items of ``list[Tag]``. And a title or a tag is trimmed before its length is checked, which the
schema states as a pattern: something that is not white space. Our own checks add two more:
If-Match and If-None-Match must be ``*`` or a list of entity tags, and clearing tasks takes
``completed=true`` only. A client generated from the document, or a fuzzer reading it, would
otherwise send what the service refuses.
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType

from service.etags import HEADER_PATTERN
from service.schemas import TAG_MAX, CompletedUpdate, TaskCreate, TaskReplace, TaskUpdate

REQUEST_BODIES = (TaskCreate, TaskReplace, TaskUpdate, CompletedUpdate)

NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"  # no NUL, and something left after trimming
TAG = Schema(
    type=OpenAPIType.STRING,
    min_length=1,
    pattern=NOT_BLANK,
    description=f"1 to {TAG_MAX} characters after trimming; stored lower-case.",
)


def say_what_is_enforced(document: OpenAPI) -> None:
    _bodies(document)
    for operation in _operations(document):
        for parameter in operation.parameters or []:
            if not isinstance(parameter, Parameter) or not isinstance(parameter.schema, Schema):
                continue
            if parameter.name in {"If-Match", "If-None-Match"}:
                parameter.schema.pattern = HEADER_PATTERN  # anything else is a 400
    clear = (document.paths or {}).get("/api/{user_id}/tasks")
    for parameter in (clear.delete.parameters or []) if clear and clear.delete else []:
        if isinstance(parameter, Parameter) and parameter.name == "completed" and isinstance(parameter.schema, Schema):
            parameter.schema.enum = [True]  # false is a 400: there is nothing else to clear


def _operations(document: OpenAPI) -> list[Operation]:
    methods = ("get", "put", "post", "delete", "patch")
    items = (document.paths or {}).values()
    return [op for item in items for op in (getattr(item, method) for method in methods) if op is not None]


def _bodies(document: OpenAPI) -> None:
    schemas = document.components.schemas if document.components and document.components.schemas else {}
    for struct in REQUEST_BODIES:
        schema = schemas.get(struct.__name__)
        if not isinstance(schema, Schema):
            continue
        schema.additional_properties = False
        title = (schema.properties or {}).get("title")
        if isinstance(title, Schema):
            title.pattern = NOT_BLANK
        tags = (schema.properties or {}).get("tags")
        for array in [tags, *(tags.one_of or [])] if isinstance(tags, Schema) else []:
            if isinstance(array, Schema) and array.items is not None:
                array.items = TAG
