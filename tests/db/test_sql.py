"""The SQL files: every statement is run by the service, every one on a table of users' rows is
scoped to one user (but the few listed as serving every user), and the loader fails fast."""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import service
from service.db import sql as sqlfile
from service.db.statements import Statement
from service.tasks.schemas import Task

TASK_TABLE = re.compile(r"\btasks\b", re.IGNORECASE)
# The tables of users' rows: a statement on one of them filters by user_id = $1.
USER_TABLES = re.compile(r"\b(?:tasks|idempotency_keys)\b", re.IGNORECASE)
# The user filter must be on the table itself and bound to $1, not merely mentioned.
USER_FILTER = re.compile(r"\bWHERE\s+(?:tasks\.)?user_id\s*=\s*\$1\b", re.IGNORECASE)
# A statement that serves the whole service rather than one user's request (a purge) says so, and
# why, in a comment line under its name: "-- every user: <why>". Each is listed in ACROSS_USERS,
# so that a new one is a change someone reviews, not a comment slipped in.
EVERY_USER = re.compile(r"^\s*--\s*every user:\s*\S")
ACROSS_USERS = {"purge_expired_idempotency_keys"}


def task_queries() -> list[sqlfile.Query]:
    return [query for query in sqlfile.load().values() if TASK_TABLE.search(query.sql)]


def user_queries() -> list[sqlfile.Query]:
    return [query for query in sqlfile.load().values() if USER_TABLES.search(query.sql)]


def marked_every_user(text: str, name_line: int) -> bool:
    """Whether the comment lines under the name line (1-based) of a statement in ``text`` mark it."""
    below = text.splitlines()[name_line:]
    comments = itertools.takewhile(lambda line: line.lstrip().startswith("--"), below)
    return any(EVERY_USER.match(line) for line in comments)


def across_users(query: sqlfile.Query) -> bool:
    filename, line = query.source.rsplit(":", 1)
    return marked_every_user((sqlfile.SQL_DIR / filename).read_text(encoding="utf-8"), int(line))


# The statements that answer with whole tasks, and so must list columns in Task's order.
RETURNING_TASKS = {
    "list_tasks",
    "create_task",
    "get_task",
    "replace_task",
    "update_task",
    "toggle_task",
    "set_task_completed",
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


def test_the_user_filter_check_sees_the_statements_on_every_users_table() -> None:
    checked = {query.name for query in user_queries()}
    assert checked >= RETURNING_TASKS | {"delete_task", "idempotency_key_answer", "record_idempotency_key_answer"}


def test_only_the_listed_statements_work_across_users() -> None:
    assert {query.name for query in user_queries() if across_users(query)} == ACROSS_USERS


def test_the_every_user_mark_needs_a_reason_under_the_name_line() -> None:
    text = "-- name: purge :val\n-- What it does.\n-- every user: a purge serves the service.\nDELETE FROM t;\n"
    assert marked_every_user(text, 1)
    assert not marked_every_user(text.replace(" a purge serves the service.", ""), 1)  # no reason given
    assert not marked_every_user("-- name: a :val\nSELECT 1;\n-- every user: below the SQL\n", 1)


@pytest.mark.parametrize(
    "query", [query for query in user_queries() if not across_users(query)], ids=lambda query: query.name
)
def test_every_query_on_a_users_table_is_filtered_by_user_id_as_first_parameter(query: sqlfile.Query) -> None:
    if query.sql.lstrip().upper().startswith("INSERT"):
        # An insert scopes the new row by writing user_id from $1.
        assert re.search(r"\(\s*user_id\b", query.sql), f"{query.source}: insert does not set user_id"
        assert re.search(r"(?:VALUES\s*\(|SELECT)\s*\$1\b", query.sql), f"{query.source}: user_id is not $1"
    else:
        assert USER_FILTER.search(query.sql), f"{query.source}: {query.name} does not filter by user_id = $1"


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


TASK_COLUMNS = re.compile(
    r"(?:SELECT|RETURNING)\s+(?P<columns>id,\s*user_id,[^;]*?)\s*(?:FROM|$)", re.IGNORECASE | re.DOTALL
)


@pytest.mark.parametrize(
    "query",
    [query for query in task_queries() if TASK_COLUMNS.search(query.sql)],
    ids=lambda query: query.name,
)
def test_task_rows_list_columns_in_task_field_order(query: sqlfile.Query) -> None:
    # queries.py builds Task(*row) positionally, so the order is part of the contract.
    match = TASK_COLUMNS.search(query.sql)
    assert match is not None
    columns = [column.strip() for column in match["columns"].split(",")]
    assert columns == list(Task.__struct_fields__), query.source


def test_every_query_returning_tasks_is_checked_for_column_order() -> None:
    checked = {query.name for query in task_queries() if TASK_COLUMNS.search(query.sql)}
    assert checked == RETURNING_TASKS
