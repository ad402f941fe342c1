"""What a list request asks for, and the opaque cursor that carries its place between pages."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from service.schemas import Priority, Task

SortKey = Literal["created_at", "updated_at", "due_at", "priority", "title"]
Sort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_at",
    "-due_at",
    "priority",
    "-priority",
    "title",
    "-title",
]
DEFAULT_SORT: Sort = "-created_at"
LIMIT_MAX = 200
LIMIT_DEFAULT = 100

# The task fields that place a task in each order, last the id that breaks ties; the SQL
# fragments position_<key> take them in this order.
POSITION_FIELDS: dict[SortKey, tuple[str, ...]] = {
    "created_at": ("created_at", "id"),
    "updated_at": ("updated_at", "id"),
    "due_at": ("due_at", "id"),
    "priority": ("priority", "created_at", "id"),
    "title": ("title", "id"),
}
_POSITION_TYPES: dict[SortKey, Any] = {
    "created_at": tuple[str, datetime, UUID],
    "updated_at": tuple[str, datetime, UUID],
    "due_at": tuple[str, datetime | None, UUID],
    "priority": tuple[str, Priority, datetime, UUID],
    "title": tuple[str, str, UUID],
}


class TaskQuery(msgspec.Struct, kw_only=True, frozen=True):
    """A list request, validated: filters (None: not filtered), the order and the page."""

    completed: bool | None = None
    priorities: tuple[Priority, ...] | None = None
    tags: tuple[str, ...] | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    search: str | None = None  # a tsquery, from search_terms
    sort: SortKey = "created_at"
    descending: bool = True
    after: tuple[Any, ...] | None = None  # the position of the last task of the previous page
    limit: int = LIMIT_DEFAULT


class BadCursor(ValueError):
    """The cursor was not made by this service for this sort."""


def split_sort(sort: Sort) -> tuple[SortKey, bool]:
    key: SortKey = sort.removeprefix("-")  # type: ignore[assignment]
    return key, sort.startswith("-")


def encode_cursor(sort: Sort, task: Task) -> str:
    key, _ = split_sort(sort)
    position = [sort, *(getattr(task, field) for field in POSITION_FIELDS[key])]
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(sort: Sort, cursor: str) -> tuple[Any, ...]:
    """The position a cursor holds; BadCursor if it is damaged or was made for another sort."""
    key, _ = split_sort(sort)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, *position = msgspec.json.decode(raw, type=_POSITION_TYPES[key])
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("cursor is not one this service made; start again without it") from exc
    if made_for != sort:
        raise BadCursor(f"cursor belongs to sort={made_for}, not sort={sort}; start again without it")
    return tuple(position)


# Letters and digits only: PostgreSQL's parser splits words at everything else too, and
# nothing the client typed reaches to_tsquery's own syntax.
_WORD = re.compile(r"[^\W_]+")


def search_terms(text: str) -> str | None:
    """A tsquery matching tasks that have a word starting with each word of ``text``."""
    words = _WORD.findall(text)  # to_tsquery lower-cases them as to_tsvector did the tasks
    return " & ".join(f"{word}:*" for word in words) if words else None
