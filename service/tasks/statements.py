"""The list_tasks statement, composed from the named fragments a list request chooses."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, partial
from typing import Any, Literal

import msgspec

from service.db.sql import SQL
from service.tasks.schemas import Priority

SortKey = Literal["created_at", "updated_at", "due_at", "priority", "title"]


class TaskQuery(msgspec.Struct, kw_only=True, frozen=True):
    """A list request, validated: filters (None: not filtered), the order and the page."""

    completed: bool | None = None
    priorities: tuple[Priority, ...] | None = None
    tags: tuple[str, ...] | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    search: str | None = None  # a tsquery, from search_terms
    finds_nothing: bool = False  # q held no word to look for, so no task matches it
    sort: SortKey = "created_at"
    descending: bool = True
    after: tuple[Any, ...] | None = None  # the position of the last task of the previous page
    limit: int = 101  # the default page of 100, and one more to tell whether another page follows


# The filters of a TaskQuery, each with the fragment that applies it.
_FILTERS = (
    ("completed", "filter_completed"),
    ("priorities", "filter_priority"),
    ("tags", "filter_tags"),
    ("due_before", "filter_due_before"),
    ("due_after", "filter_due_after"),
    ("overdue", "filter_overdue"),
    ("search", "filter_search"),
)
_PARAMETER = re.compile(r"\$(\d+)")


@cache
def _list_sql(filters: tuple[str, ...], sort: str, descending: bool, positioned: bool) -> str:
    """list_tasks with the named fragments appended, each one's $n following those before it.

    Only fragment names and the two fixed direction words reach the text; the cache holds one
    statement per shape a client has asked for (at most a few thousand, a few hundred bytes each).
    """
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    names = [*filters, *([f"position_{sort}"] if positioned else []), f"order_{sort}", "page_limit"]
    parts, bound = [SQL["list_tasks"]], 1  # $1 is user_id
    for name in names:
        fragment = SQL[name].format(op=op, dir=direction) if name.startswith(("position_", "order_")) else SQL[name]
        parts.append(_PARAMETER.sub(partial(_renumber, offset=bound), fragment))
        bound += len(set(_PARAMETER.findall(fragment)))
    return "\n".join(parts)


def _renumber(match: re.Match[str], *, offset: int) -> str:
    return f"${int(match[1]) + offset}"


def list_statement(user_id: str, query: TaskQuery) -> tuple[str, list[Any]]:
    """The list_tasks statement for ``query`` and its arguments."""
    filters = [(fragment, getattr(query, field)) for field, fragment in _FILTERS if getattr(query, field) is not None]
    sql = _list_sql(tuple(fragment for fragment, _ in filters), query.sort, query.descending, query.after is not None)
    return sql, [user_id, *(value for _, value in filters), *(query.after or ()), query.limit]
