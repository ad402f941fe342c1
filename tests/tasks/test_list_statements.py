"""The list statements the service sends, one per filter and sort shape, kept in a reviewed snapshot.

service/tasks/statements.py composes list_tasks from fragments, so the SQL that runs appears in
no file of sql/. tests/tasks/list_statements.sql shows it, with the arguments in their order, and
this test fails with a diff when what the builder composes differs from it. After an intended
change, regenerate the snapshot and review its diff with the change:

    UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tasks/test_list_statements.py
"""

from __future__ import annotations

import difflib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import asyncpg
import pytest

from service.tasks import listing
from service.tasks.statements import SortKey, TaskQuery, list_statement

SNAPSHOT = Path(__file__).with_name("list_statements.sql")
HEADER = """\
-- The list_tasks statements the service sends: each filter alone, each sort both ways on a first
-- page and on a next page (after a cursor's position), and all filters together. Each shows the
-- exact text sent and its arguments in order, for user 'alice' asking for pages of 20 tasks.
--
-- Written by tests/tasks/test_list_statements.py, which fails when service/tasks/statements.py
-- composes anything else. After an intended change, regenerate it and review the diff:
--   UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tasks/test_list_statements.py
"""

USER = "alice"
WHEN = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TASK_ID = uuid.UUID(int=1)
FILTERS: dict[str, dict[str, Any]] = {
    "completed": {"completed": True},
    "priority": {"priorities": ("high", "low")},
    "tag": {"tags": ("work", "home")},
    "due_before": {"due_before": datetime(2026, 12, 1, tzinfo=UTC)},
    "due_after": {"due_after": datetime(2026, 11, 1, tzinfo=UTC)},
    "overdue": {"overdue": False},
    "series_id": {"series_id": uuid.UUID(int=2)},
    "q": {"search": listing.search_terms("milk bread")},
    "list_id": {"list_id": uuid.UUID(int=3)},
    "parent_id": {"parent_id": uuid.UUID(int=0)},
}
ALL_FILTERS = {name: value for filters in FILTERS.values() for name, value in filters.items()}
# A cursor's position for each sort, in the order of listing.POSITION_FIELDS.
POSITIONS: dict[SortKey, tuple[Any, ...]] = {
    "created_at": (WHEN, TASK_ID),
    "updated_at": (WHEN, TASK_ID),
    "due_at": (None, TASK_ID),
    "priority": ("medium", WHEN, TASK_ID),
    "title": ("Buy milk", TASK_ID),
    "position": (None, TASK_ID, "a0V"),
}


def shapes() -> dict[str, TaskQuery]:
    found = {f"filter {name}": TaskQuery(**filters, page_size=20) for name, filters in FILTERS.items()}
    for sort in get_args(SortKey):
        for descending in (False, True):
            for positioned in (False, True):
                name = f"sort={'-' if descending else ''}{sort}, {'next' if positioned else 'first'} page"
                after = POSITIONS[sort] if positioned else None
                found[name] = TaskQuery(sort=sort, descending=descending, after=after, page_size=20)
    found["all filters"] = TaskQuery(**ALL_FILTERS, page_size=20)
    found["all filters, sort=priority, next page"] = TaskQuery(
        **ALL_FILTERS, sort="priority", descending=False, after=POSITIONS["priority"], page_size=20
    )
    return found


def shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | str):
        return f"'{value}'"
    if isinstance(value, tuple):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    return "null" if value is None else str(value).lower()


def rendered() -> str:
    blocks = [HEADER]
    for name, query in shapes().items():
        sql, args = list_statement(USER, query)
        arguments = "\n".join(f"--   ${number} = {shown(value)}" for number, value in enumerate(args, start=1))
        blocks.append(f"-- {name}\n{arguments}\n{sql}\n")
    return "\n".join(blocks)


def test_the_list_statements_are_the_reviewed_ones() -> None:
    now = rendered()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(now, encoding="utf-8")
        return
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if now != committed:
        diff = difflib.unified_diff(
            committed.splitlines(),
            now.splitlines(),
            f"{SNAPSHOT.name} (committed)",
            f"{SNAPSHOT.name} (what statements.py composes now)",
            lineterm="",
        )
        pytest.fail(
            "the list statements changed; if that is intended, run\n"
            "  UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tasks/test_list_statements.py\n"
            "and commit the snapshot with the change.\n\n" + "\n".join(diff),
            pytrace=False,
        )


@pytest.mark.parametrize("name", shapes())
async def test_each_shape_runs_with_its_arguments(admin: asyncpg.Connection, name: str) -> None:
    # The snapshot shows the text; PostgreSQL shows that the arguments fit it, in number and type.
    sql, args = list_statement(USER, shapes()[name])
    statement = await admin.prepare(sql)
    assert len(statement.get_parameters()) == len(args)
    await statement.fetch(*args)  # each argument is of a type its parameter takes
