"""What the import's OpenAPI document says beyond its types: each item's writable fields follow
the rules of a create (service.tasks.openapi, service.lists.openapi), and its kept moments leave a
day to Python's first and last, as a due date does."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Schema

from service.account.schemas import ImportedList, ImportedTask, ImportedTrashedTask
from service.http.openapi import branches, trimmed
from service.lists.schemas import NAME_MAX
from service.tasks.openapi import state_task_fields
from service.tasks.schemas import DUE_DATE_PATTERN

MOMENTS = ("created_at", "updated_at", "completed_at", "deleted_at")


def say_what_is_enforced(document: OpenAPI) -> None:
    schemas = document.components.schemas if document.components and document.components.schemas else {}
    for struct in (ImportedTask, ImportedTrashedTask):
        state_task_fields(schemas[struct.__name__])
    listed = schemas[ImportedList.__name__]
    name = (listed.properties or {}).get("name")
    if isinstance(name, Schema):
        name.pattern = trimmed(NAME_MAX)
    for struct_name in (ImportedList.__name__, ImportedTask.__name__, ImportedTrashedTask.__name__):
        for field in MOMENTS:
            for moment in branches(schemas[struct_name], field):
                if moment.format is not None:
                    moment.pattern = DUE_DATE_PATTERN
