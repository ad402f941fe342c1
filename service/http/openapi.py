"""Where Litestar's generated OpenAPI document says less than the code enforces, say it.

Litestar drops two things our Structs enforce: ``forbid_unknown_fields`` (a body with another
field is a 400, so the schema must not allow additional properties) and the constraints on the
items of ``list[Tag]``. A title or a tag is trimmed before its length is checked, which the
schema states as a pattern: 1 to N characters between the white space around them. Our own
checks add more: If-Match and If-None-Match must be ``*`` or a list of entity tags, clearing
tasks takes ``completed=true`` only, a due date leaves a day to Python's first and last, and
``tz`` is one of the zone names the service knows. A client generated from the document, or a
fuzzer reading it, would otherwise send what the service refuses.

Litestar also writes an optional parameter as ``oneOf: [X, null]``, but a URL or a header cannot
carry a null: an absent parameter is what ``required: false`` already says.
"""

from __future__ import annotations

import dataclasses

from litestar.openapi.spec import OpenAPI, Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType

from service.http.conditional import HEADER_PATTERN
from service.tasks.schemas import (
    DUE_DATE_PATTERN,
    TAG_MAX,
    TIME_ZONES,
    TITLE_MAX,
    CompletedUpdate,
    TaskCreate,
    TaskReplace,
    TaskUpdate,
)

REQUEST_BODIES = (TaskCreate, TaskReplace, TaskUpdate, CompletedUpdate)


# What str.strip() trims, spelled out: ``\s`` means fewer characters to the ECMA and Rust regex
# engines of JSON Schema validators than to Python.
WHITE_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def trimmed(most: int) -> str:
    """No NUL, and 1 to ``most`` characters once the white space around it is trimmed."""
    space, solid = f"[{WHITE_SPACE}]", f"[^{WHITE_SPACE}\\x00]"
    return rf"^{space}*{solid}(?:[^\x00]{{0,{most - 2}}}{solid})?{space}*$"


TAG = Schema(
    type=OpenAPIType.STRING,
    pattern=trimmed(TAG_MAX),
    description=f"1 to {TAG_MAX} characters after trimming; stored lower-case.",
)


def say_what_is_enforced(document: OpenAPI) -> None:
    _bodies(document)
    for operation in _operations(document):
        for parameter in operation.parameters or []:
            if not isinstance(parameter, Parameter) or not isinstance(parameter.schema, Schema):
                continue
            _drop_null(parameter.schema)
            if parameter.name in {"If-Match", "If-None-Match"}:
                parameter.schema.pattern = HEADER_PATTERN  # anything else is a 400
            elif parameter.name == "tz":
                parameter.schema.enum = sorted(TIME_ZONES)
            elif parameter.name == "tag":
                parameter.schema.items = TAG
            elif parameter.name in {"due_before", "due_after"}:
                parameter.schema.pattern = DUE_DATE_PATTERN
    clear = (document.paths or {}).get("/api/{user_id}/tasks")
    for parameter in (clear.delete.parameters or []) if clear and clear.delete else []:
        if isinstance(parameter, Parameter) and parameter.name == "completed" and isinstance(parameter.schema, Schema):
            parameter.schema.enum = [True]  # false is a 400: there is nothing else to clear


def _drop_null(schema: Schema) -> None:
    """``oneOf: [X, null]`` becomes X, keeping what was said beside the ``oneOf``."""
    members = list(schema.one_of or [])
    others = [member for member in members if not (isinstance(member, Schema) and member.type == "null")]
    if len(members) != 2 or len(others) != 1 or not isinstance(others[0], Schema):
        return
    schema.one_of = None
    for field in dataclasses.fields(others[0]):
        if getattr(schema, field.name) is None:
            setattr(schema, field.name, getattr(others[0], field.name))


def _branches(schema: Schema, name: str) -> list[Schema]:
    """A body property's schema and, where it may also be null, each schema of its ``oneOf``."""
    prop = (schema.properties or {}).get(name)
    if not isinstance(prop, Schema):
        return []
    return [branch for branch in (prop, *(prop.one_of or [])) if isinstance(branch, Schema)]


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
        if struct is TaskUpdate:
            schema.min_properties = 1  # an empty update is a 400: it says nothing to change
        title = (schema.properties or {}).get("title")
        if isinstance(title, Schema):
            title.pattern = trimmed(TITLE_MAX)
        for moment in _branches(schema, "due_at"):
            if moment.format is not None:
                moment.pattern = DUE_DATE_PATTERN
        for array in _branches(schema, "tags"):
            if array.items is not None:
                array.items = TAG
