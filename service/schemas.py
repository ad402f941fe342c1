"""Request and response shapes. Validation lives here, in the types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

TITLE_MAX = 200
DESCRIPTION_MAX = 1000

# PostgreSQL text cannot hold NUL; refuse it here rather than as a database error.
_NO_NUL = r"^[^\x00]*$"

# The contract counts a title's length after trimming, so ``_trimmed`` checks it;
# the schema still states the limits for clients.
Title = Annotated[
    str,
    Meta(
        pattern=_NO_NUL,
        # Litestar puts "extra" into the OpenAPI schema (it ignores JSON Schema keys here).
        extra_json_schema={"extra": {"min_length": 1, "max_length": TITLE_MAX}},
        description="1 to 200 characters after surrounding white space is trimmed.",
        examples=["Buy milk"],
    ),
]
Description = Annotated[
    str,
    Meta(
        max_length=DESCRIPTION_MAX,
        pattern=_NO_NUL,
        description="Up to 1000 characters.",
        examples=["Two litres, semi-skimmed"],
    ),
]


def _trimmed(title: str) -> str:
    stripped = title.strip()
    if not 1 <= len(stripped) <= TITLE_MAX:
        # Phrased like msgspec's own errors, so the problem body names the field.
        raise ValueError(
            f"Expected `str` of 1 to {TITLE_MAX} characters after trimming surrounding white space, "
            f"got {len(stripped)} - at `$.title`"
        )
    return stripped


class _Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are an error, not silently dropped."""


class TaskCreate(_Input):
    title: Title
    description: Description | None = None

    def __post_init__(self) -> None:
        self.title = _trimmed(self.title)


class TaskReplace(_Input):
    """The whole writable content; an omitted description becomes null, an omitted completed stays."""

    title: Title
    description: Description | None = None
    completed: bool | None = None

    def __post_init__(self) -> None:
        self.title = _trimmed(self.title)


class TaskUpdate(_Input):
    """Any non-empty subset of the writable fields."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    completed: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.title is UNSET and self.description is UNSET and self.completed is UNSET:
            raise ValueError("give at least one of title, description, completed")
        if self.title is not UNSET:
            self.title = _trimmed(self.title)


class CompletedUpdate(_Input):
    completed: bool


class Task(msgspec.Struct):
    """A task as stored; built positionally from rows whose columns follow this field order."""

    id: UUID
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime


class Health(msgspec.Struct):
    status: str
