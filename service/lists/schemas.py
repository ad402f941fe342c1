"""The lists' shapes: a list, and what a create or rename takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from service.http.field_errors import FieldError

NAME_MAX = 100

Name = Annotated[
    str,
    Meta(
        pattern=r"^[^\x00]*$",
        description=f"1 to {NAME_MAX} characters after surrounding white space is trimmed; unique per user, "
        "ignoring case.",
        examples=["Groceries"],
    ),
]


def trimmed_name(name: str) -> str:
    stripped = name.strip()
    if not 1 <= len(stripped) <= NAME_MAX:
        limits = f"Expected `str` of 1 to {NAME_MAX} characters after trimming surrounding white space"
        raise FieldError("name", f"{limits}, got {len(stripped)}")
    return stripped


class ListWrite(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new list, or a list's new name (PATCH: the name is the only writable field)."""

    name: Name

    def __post_init__(self) -> None:
        self.name = trimmed_name(self.name)


class TaskList(msgspec.Struct):
    """A list as stored; built positionally from rows whose columns follow this field order."""

    id: UUID
    user_id: str
    name: str
    revision: int  # the user's revision at the list's latest change (GET /api/{user_id}/changes)
    created_at: datetime
    updated_at: datetime
