"""The list_tasks statement, composed from the named fragments a list request chooses."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, partial
from typing import Any, Literal, get_args
from uuid import UUID

import msgspec

from service.db.statements import Fragment, Many, ManySQL
from service.tasks.schemas import Priority

SortKey = Literal["created_at", "updated_at", "due_at", "priority", "title", "position"]


class TaskQuery(msgspec.Struct, kw_only=True, frozen=True):
    """A list request, validated: filters (None: not filtered), the order and the page."""

    completed: bool | None = None
    priorities: tuple[Priority, ...] | None = None
    tags: tuple[str, ...] | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    series_id: UUID | None = None
    list_id: UUID | None = None  # the nil uuid: the inbox
    parent_id: UUID | None = None  # the nil uuid: tasks that are no subtask
    search: str | None = None  # a tsquery, from search_terms
    finds_nothing: bool = False  # q held no word to look for, so no task matches it
    sort: SortKey = "created_at"
    descending: bool = True
    after: tuple[Any, ...] | None = None  # the position of the last task of the previous page
    page_size: int = 100  # the tasks a page holds


_LIST_TASKS = Many.bind("list_tasks")
# The filters of a TaskQuery, each with the fragment that applies it.
_FILTERS = (
    ("completed", Fragment.bind("filter_completed")),
    ("priorities", Fragment.bind("filter_priority")),
    ("tags", Fragment.bind("filter_tags")),
    ("due_before", Fragment.bind("filter_due_before")),
    ("due_after", Fragment.bind("filter_due_after")),
    ("overdue", Fragment.bind("filter_overdue")),
    ("series_id", Fragment.bind("filter_series")),
    ("list_id", Fragment.bind("filter_list")),
    ("parent_id", Fragment.bind("filter_parent")),
    ("search", Fragment.bind("filter_search")),
)
# Each sort's keyset position after the last task seen, and its order.
_POSITIONS = {key: Fragment.bind(f"position_{key}") for key in get_args(SortKey)}
_ORDERS = {key: Fragment.bind(f"order_{key}") for key in get_args(SortKey)}
_PAGE_LIMIT = Fragment.bind("page_limit")
_PARAMETER = re.compile(r"\$(\d+)")


@cache
def _list_sql(filters: tuple[Fragment, ...], sort: SortKey, descending: bool, positioned: bool) -> ManySQL:
    """list_tasks with the fragments appended, each one's $n following those before it.

    Only fragments and the two fixed direction words reach the text; the cache holds one
    statement per shape a client has asked for (at most a few thousand, a few hundred bytes each).
    """
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    ordering = [_POSITIONS[sort].sql.format(op=op, dir=direction)] if positioned else []
    ordering.append(_ORDERS[sort].sql.format(op=op, dir=direction))
    parts: list[str] = [_LIST_TASKS.sql]
    bound = 1  # $1 is user_id
    for fragment in [*(fragment.sql for fragment in filters), *ordering, _PAGE_LIMIT.sql]:
        parts.append(_PARAMETER.sub(partial(_renumber, offset=bound), fragment))
        bound += len(set(_PARAMETER.findall(fragment)))
    return ManySQL("\n".join(parts))


def _renumber(match: re.Match[str], *, offset: int) -> str:
    return f"${int(match[1]) + offset}"


def list_statement(user_id: str, query: TaskQuery) -> tuple[ManySQL, list[Any]]:
    """The list_tasks statement for ``query`` and its arguments."""
    filters = [(fragment, getattr(query, field)) for field, fragment in _FILTERS if getattr(query, field) is not None]
    sql = _list_sql(tuple(fragment for fragment, _ in filters), query.sort, query.descending, query.after is not None)
    # One row more than the page: whether it comes back tells the controller that a next page exists.
    return sql, [user_id, *(value for _, value in filters), *(query.after or ()), query.page_size + 1]
