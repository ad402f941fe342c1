"""What the lists' OpenAPI document says beyond their types: a name's length counts after trimming."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Schema

from service.http.openapi import trimmed
from service.lists.schemas import NAME_MAX, ListWrite


def say_what_is_enforced(document: OpenAPI) -> None:
    schemas = document.components.schemas if document.components and document.components.schemas else {}
    name = (schemas[ListWrite.__name__].properties or {}).get("name")
    if isinstance(name, Schema):
        name.pattern = trimmed(NAME_MAX)
