"""The SQL files: every statement is run by the service, every one on tasks is scoped to one user,
and the loader fails fast."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest

import service
from service.db import sql as sqlfile
from service.db.statements import Statement
from service.tasks.schemas import Task
from service.trash.schemas import TrashedTask

# The tables of users' data; every statement on one is scoped to one user, except the jobs' that
# work across users: the purge's and the reminder scheduler's.
TASK_TABLE = re.compile(
    r"\b(?:tasks|trashed_tasks|task_tombstones|task_counts|task_reminders|idempotency_keys|lists|list_tombstones)\b",
    re.IGNORECASE,
)
# Their files: each statement that writes is batched, and locks with FOR UPDATE SKIP LOCKED.
ACROSS_USERS = ("purge.sql:", "scheduler.sql:")
# The user filter must be in a WHERE clause (on the table or its alias) and bound to $1, not merely mentioned.
USER_FILTER = re.compile(r"\bWHERE\s+(?:\w+\.)?user_id\s*=\s*\$1\b", re.IGNORECASE)


def task_queries() -> list[sqlfile.Query]:
    return [
        query
        for query in sqlfile.load().values()
        if TASK_TABLE.search(query.sql) and not query.source.startswith(ACROSS_USERS)
    ]


def across_users_queries() -> list[sqlfile.Query]:
    return [query for query in sqlfile.load().values() if query.source.startswith(ACROSS_USERS)]


# The statements that answer with whole tasks, and so must list columns in Task's order.
RETURNING_TASKS = {
    "list_tasks",
    "create_task",
    "get_task",
    "replace_task",
    "update_task",
    "toggle_task",
    "set_task_completed",
    "restore_task",
    "create_next_occurrence",
    "move_task",
    "changes",
    "export_tasks",
}


def service_statements() -> Iterator[Statement]:
    """Every statement a module of the service binds, as a global or inside a global's dict or tuple."""
    for module in pkgutil.walk_packages(service.__path__, "service."):
        if not module.name.endswith(".__main__"):
            yield from _statements_in(vars(importlib.import_module(module.name)).values())


def _statements_in(values: Iterable[object], depth: int = 3) -> Iterator[Statement]:
    for value in values:
        if isinstance(value, Statement):
            yield value
        elif depth and isinstance(value, dict):
            yield from _statements_in(value.values(), depth - 1)
        elif depth and isinstance(value, tuple | list):
            yield from _statements_in(value, depth - 1)


def test_every_named_statement_is_bound_by_the_service() -> None:
    # Bound by a query module, or a fragment bound by a statement builder: no dead SQL.
    bound = {statement.name for statement in service_statements()}
    assert {"get_task", "list_tags", "applied_migrations", "filter_tags", "order_title"} <= bound  # the walk works
    unbound = sorted(set(sqlfile.load()) - bound)
    assert not unbound, f"sql/ declares statements no module of the service binds: {unbound}"


def test_the_user_filter_check_sees_the_statements_on_tasks() -> None:
    assert {query.name for query in task_queries()} >= RETURNING_TASKS | {
        "trash_task",
        "empty_trash",
        "list_trash",
        "idempotency_key_answer",
        "record_idempotency_key_answer",
        "create_list",
        "delete_list",
        "move_plan",
    }


def test_the_jobs_lock_what_they_change_and_skip_what_others_hold() -> None:
    assert {query.name for query in across_users_queries()} == {
        "purge_expired_trash",
        "purge_expired_tombstones",
        "purge_expired_idempotency_keys",
        "purge_expired_list_tombstones",
        "fire_due_reminders",
        "announce_reminders",
        "next_reminder_at",
    }
    for query in across_users_queries():
        if not re.search(r"\b(?:UPDATE|DELETE)\b", query.sql):
            continue  # a read, or a notification: nothing to lock
        assert "FOR UPDATE SKIP LOCKED" in query.sql, f"{query.source}: {query.name} could wait on a request"
        assert re.search(r"LIMIT \$2\b", query.sql), f"{query.source}: {query.name} is not batched"


@pytest.mark.parametrize("query", task_queries(), ids=lambda query: query.name)
def test_every_task_query_is_filtered_by_user_id_as_first_parameter(query: sqlfile.Query) -> None:
    if USER_FILTER.search(query.sql):
        return
    if re.search(r"\bINSERT INTO\b", query.sql, re.IGNORECASE):
        # An insert scopes the new row by writing user_id from $1.
        assert re.search(r"\(\s*user_id\b", query.sql), f"{query.source}: insert does not set user_id"
        assert re.search(r"(?:VALUES\s*\(|SELECT)\s*\$1\b", query.sql), f"{query.source}: user_id is not $1"
    else:
        raise AssertionError(f"{query.source}: {query.name} does not filter by user_id = $1")


@pytest.mark.parametrize("query", list(sqlfile.load().values()), ids=lambda query: query.name)
def test_no_query_selects_star(query: sqlfile.Query) -> None:
    assert not re.search(r"SELECT\s+\*", query.sql, re.IGNORECASE), query.source


def test_the_guard_catches_an_unscoped_query() -> None:
    unscoped = sqlfile.parse("-- name: leak :many\nSELECT id FROM tasks WHERE id = $2;\n", "bad.sql")["leak"]
    assert TASK_TABLE.search(unscoped.sql)
    assert not USER_FILTER.search(unscoped.sql)


def test_parse_reads_names_cardinality_and_sql() -> None:
    queries = sqlfile.parse(
        "-- a file comment\n\n-- name: one_row :one\n-- What it guarantees.\nSELECT 1\nFROM x;\n\n"
        "-- name: many_rows :many\nSELECT 2;\n",
        "ok.sql",
    )
    assert queries["one_row"] == sqlfile.Query("one_row", ":one", "SELECT 1\nFROM x", "ok.sql:3")
    assert queries["many_rows"].sql == "SELECT 2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: a :one\nSELECT 1;\n-- name: a :one\nSELECT 2;\n", "bad.sql:3: duplicate query name 'a'"),
        ("-- name:  :one\nSELECT 1;\n", "bad.sql:1: query name '' is empty"),
        ("-- name: a :one\n-- only a comment\n", "bad.sql:1: query 'a' has no SQL"),
        ("-- name: a\nSELECT 1;\n", "bad.sql:1: query 'a' needs one of"),
        ("-- name: a :some\nSELECT 1;\n", "bad.sql:1: query 'a' needs one of"),
        ("SELECT 1;\n-- name: a :one\nSELECT 1;\n", "bad.sql:1: SQL before the first '-- name:' line"),
    ],
)
def test_parse_fails_fast_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(sqlfile.SQLFileError, match=re.escape(message)):
        sqlfile.parse(text, "bad.sql")


def test_load_names_the_file_and_line_of_a_malformed_statement(tmp_path: Path) -> None:
    (tmp_path / "good.sql").write_text("-- name: fine :one\nSELECT 1;\n")
    (tmp_path / "bad.sql").write_text("-- About this file.\n\n-- name: oops :sometimes\nSELECT 1;\n")
    with pytest.raises(sqlfile.SQLFileError, match=r"^bad\.sql:3: query 'oops' needs one of"):
        sqlfile.load(tmp_path)


def test_load_refuses_a_name_used_in_two_files(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("-- name: same :one\nSELECT 1;\n")
    (tmp_path / "b.sql").write_text("\n-- name: same :one\nSELECT 2;\n")
    with pytest.raises(sqlfile.SQLFileError, match=r"b\.sql:2: duplicate query name 'same' \(also a\.sql:1\)"):
        sqlfile.load(tmp_path)


# The statements whose rows become tasks positionally (Task(*row), TrashedTask(*row)), and the
# columns each row holds before the task's.
TASK_ROWS: dict[str, tuple[type[msgspec.Struct], list[str]]] = {
    **{name: (Task, []) for name in RETURNING_TASKS - {"changes"}},
    "list_trash": (TrashedTask, []),
    "list_trash_after": (TrashedTask, []),
    "export_trash": (TrashedTask, []),
    "changes": (Task, ["latest", "horizon", "kind"]),
}


async def result_columns(admin: asyncpg.Connection, sql: str) -> list[str]:
    """The names of the columns ``sql`` answers with, as PostgreSQL describes the prepared statement."""
    statement = await admin.prepare(sql)
    return [attribute.name for attribute in statement.get_attributes()]


@pytest.mark.parametrize("name", sorted(TASK_ROWS))
async def test_task_rows_list_columns_in_task_field_order(admin: asyncpg.Connection, name: str) -> None:
    # queries.py builds Task(*row) positionally, so the order is part of the contract.
    struct, before = TASK_ROWS[name]
    assert await result_columns(admin, sqlfile.load()[name].sql) == [*before, *struct.__struct_fields__]


async def test_every_statement_answering_with_tasks_is_checked_for_column_order(admin: asyncpg.Connection) -> None:
    answering = set()
    for query in sqlfile.load().values():
        if query.cardinality in {":one", ":many"} and {"id", "title"} <= set(await result_columns(admin, query.sql)):
            answering.add(query.name)
    # calendar_tasks answers some of a task's columns, by name, for the calendar export
    assert answering == set(TASK_ROWS) | {"calendar_tasks"}
