"""What a list request asks for, and the opaque cursor that carries its place between pages."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Request

from service.http.field_errors import FieldError
from service.tasks.schemas import Priority, Task, check_due, normalise_tag, storable
from service.tasks.statements import SortKey, TaskQuery

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
    "position",
    "-position",
]
DEFAULT_SORT: Sort = "-created_at"
LIMIT_MAX = 200
LIMIT_DEFAULT = 100
SEARCH_MAX = 200
CURSOR_MAX = 2048  # a title-sorted cursor holds a title: 200 characters, up to 800 bytes of UTF-8

# The task fields that place a task in each order, last the id that breaks ties; the SQL
# fragments position_<key> take them in this order.
POSITION_FIELDS: dict[SortKey, tuple[str, ...]] = {
    "created_at": ("created_at", "id"),
    "updated_at": ("updated_at", "id"),
    "due_at": ("due_at", "id"),
    "priority": ("priority", "created_at", "id"),
    "title": ("title", "id"),
    # Unique within a list and parent, so no id: the three are the columns of one unique index.
    "position": ("list_id", "parent_id", "position"),
}
_POSITION_TYPES: dict[SortKey, Any] = {
    "created_at": tuple[str, datetime, UUID],
    "updated_at": tuple[str, datetime, UUID],
    "due_at": tuple[str, datetime | None, UUID],
    "priority": tuple[str, Priority, datetime, UUID],
    "title": tuple[str, str, UUID],
    "position": tuple[str, UUID | None, UUID | None, str],
}


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
        raise BadCursor(NOT_OURS) from exc
    if made_for != sort:
        raise BadCursor(f"cursor belongs to sort={made_for}, not sort={sort}; start again without it")
    if not all(_could_be_ours(value) for value in position):
        raise BadCursor(NOT_OURS)
    return tuple(position)


NOT_OURS = "cursor is not one this service made; start again without it"


def _could_be_ours(value: Any) -> bool:
    """A position this service wrote: text without NUL, times with an offset inside the storable range.

    Anything else came from someone editing a cursor, and would reach PostgreSQL as an error.
    """
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, datetime):
        return value.tzinfo is not None and storable(value)
    return True


# Letters and digits only: PostgreSQL's parser splits words at everything else too, and
# nothing the client typed reaches to_tsquery's own syntax.
_WORD = re.compile(r"[^\W_]+")


def search_terms(text: str) -> str | None:
    """A tsquery matching tasks that have a word starting with each word of ``text``."""
    words = _WORD.findall(text)  # to_tsquery lower-cases them as to_tsvector did the tasks
    return " & ".join(f"{word}:*" for word in words) if words else None


def next_page(request: Request[Any, Any, Any], cursor: str) -> str:
    """A Link to the same list, same filters, from ``cursor`` on (RFC 8288, relative to this URL)."""
    query = [(name, value) for name, value in request.query_params.multi_items() if name != "cursor"]
    return f'<{request.url.path}?{urlencode([*query, ("cursor", cursor)])}>; rel="next"'


def task_query(
    *,
    completed: bool | None,
    priority: list[Priority] | None,
    tag: list[str] | None,
    due_before: datetime | None,
    due_after: datetime | None,
    overdue: bool | None,
    q: str | None,
    sort: Sort,
    series_id: UUID | None = None,
    list_id: UUID | None = None,
    parent_id: UUID | None = None,
    limit: int,
    cursor: str | None,
) -> TaskQuery:
    """The list request's parameters, checked beyond their types; a bad one is a FieldError naming it."""
    for name, moment in (("due_before", due_before), ("due_after", due_after)):
        if moment is None:
            continue
        if moment.tzinfo is None:
            raise FieldError(name, "needs a UTC offset (RFC 3339), e.g. 2026-11-30T17:00:00Z", "query")
        check_due(moment, name, "query")
    search = search_terms(q) if q is not None else None
    tags = tuple(dict.fromkeys(normalise_tag(value, "tag", "query") for value in tag)) if tag else None
    try:
        after = decode_cursor(sort, cursor) if cursor else None
    except BadCursor as exc:
        raise FieldError("cursor", str(exc), "query") from exc
    key, descending = split_sort(sort)
    return TaskQuery(
        completed=completed,
        priorities=tuple(dict.fromkeys(priority)) if priority else None,
        tags=tags,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        series_id=series_id,
        list_id=list_id,
        parent_id=parent_id,
        search=search,
        finds_nothing=q is not None and search is None,
        sort=key,
        descending=descending,
        after=after,
        page_size=limit,
    )
