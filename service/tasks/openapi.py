"""What the tasks' OpenAPI document says beyond what Litestar derives from their types.

A title or a tag is trimmed before its length is checked, which the schema states as a pattern:
1 to N characters between the white space around them. Litestar drops the constraints on the
items of ``list[Tag]``. A due date leaves a day to Python's first and last. A time zone is one of
the IANA names. Reminders are distinct. An update names at least one field. The parameters' own
rules (a tag, a due time, ``tz``'s zones, clearing's ``completed=true``) are stated where the
controller declares them.
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Schema
from litestar.openapi.spec.enums import OpenAPIType

from service.http.openapi import branches, trimmed
from service.tasks.schemas import (
    DUE_DATE_PATTERN,
    REMINDER_MINUTES_MAX,
    TAG_MAX,
    TIME_ZONES,
    TITLE_MAX,
    TaskCreate,
    TaskReplace,
    TaskUpdate,
)

TAG = Schema(
    type=OpenAPIType.STRING,
    pattern=trimmed(TAG_MAX),
    description=f"1 to {TAG_MAX} characters after trimming; stored lower-case.",
)


REMINDER = Schema(
    type=OpenAPIType.INTEGER,
    minimum=0,
    maximum=REMINDER_MINUTES_MAX,
    description="Whole minutes before `due_at`.",
)


def say_what_is_enforced(document: OpenAPI) -> None:
    schemas = document.components.schemas if document.components and document.components.schemas else {}
    for struct in (TaskCreate, TaskReplace, TaskUpdate):
        state_task_fields(schemas[struct.__name__])
    schemas[TaskUpdate.__name__].min_properties = 1  # an empty update is a 400: it says nothing to change


def state_task_fields(schema: Schema) -> None:
    """The rules of a task's writable fields, in the schema of a body that has them."""
    title = (schema.properties or {}).get("title")
    if isinstance(title, Schema):
        title.pattern = trimmed(TITLE_MAX)
    for moment in branches(schema, "due_at"):
        if moment.format is not None:
            moment.pattern = DUE_DATE_PATTERN
    for array in branches(schema, "tags"):
        if array.items is not None:
            array.items = TAG
    for zone in branches(schema, "time_zone"):
        zone.enum = sorted(TIME_ZONES)
    for array in branches(schema, "reminders"):
        array.unique_items = True
        array.items = REMINDER
