"""Binding a statement checks its name and cardinality when the binding module loads; mypy checks the call."""

from __future__ import annotations

import importlib.util
import re
import traceback
from pathlib import Path

import pytest
from mypy import api as mypy

from service.db import sql as sqlfile
from service.db.statements import BindError, Fragment, Many, One, Statement, Val

ROOT = Path(__file__).resolve().parents[2]


def test_a_bound_statement_is_the_one_of_the_files() -> None:
    statement = One.bind("get_task")
    query = sqlfile.load()["get_task"]
    assert (statement.name, statement.sql, statement.source) == (query.name, query.sql, query.source)
    assert re.fullmatch(r"tasks\.sql:\d+", statement.source)
    assert repr(statement) == f"One('get_task', {query.source})"


def test_a_misspelled_name_is_refused_with_the_name_and_where_it_was_expected() -> None:
    with pytest.raises(BindError) as raised:
        One.bind("get_tsak")
    line = traceback.extract_tb(raised.tb)[0].lineno
    assert str(raised.value) == (
        f"tests/db/test_statements.py:{line}: no statement named 'get_tsak' in sql/*.sql (did you mean 'get_task'?)"
    )


def test_a_wrong_cardinality_is_refused_with_both_and_where_the_file_declares_it() -> None:
    source = sqlfile.load()["get_task"].source
    with pytest.raises(BindError) as raised:
        Many.bind("get_task")
    line = traceback.extract_tb(raised.tb)[0].lineno
    assert str(raised.value) == (
        f"tests/db/test_statements.py:{line}: Many.bind('get_task') needs a :many statement, "
        f"and {source} declares 'get_task' :one"
    )
    with pytest.raises(BindError, match=r"Val\.bind\('filter_tags'\) needs a :val statement.* :fragment"):
        Val.bind("filter_tags")
    with pytest.raises(BindError, match=r"Fragment\.bind\('list_tasks'\) needs a :fragment statement.* :many"):
        Fragment.bind("list_tasks")


def test_a_module_binding_a_wrong_name_fails_to_import(tmp_path: Path) -> None:
    # What start-up and test collection meet: the import of the query module fails, not a request.
    module = tmp_path / "misspelled_queries.py"
    module.write_text('from service.db.statements import One\n\nGET_TASK = One.bind("get_tsak")\n')
    spec = importlib.util.spec_from_file_location("misspelled_queries", module)
    assert spec is not None
    assert spec.loader is not None
    with pytest.raises(BindError, match=re.escape(f"{module}:3: no statement named 'get_tsak'")):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_every_cardinality_the_loader_accepts_has_its_statement_class() -> None:
    classes = Statement.__subclasses__()
    assert sorted(cls.cardinality for cls in classes) == sorted(sqlfile.CARDINALITIES)


CALLS = """\
from service.db.statements import Executor, Fragment, Many, One, Val

GET = One.bind("get_task")
LIST = Many.bind("list_tags")
COUNT = Val.bind("delete_completed_tasks")
FILTER = Fragment.bind("filter_tags")


async def right(db: Executor) -> None:
    await db.fetchrow(GET.sql, "alice")
    await db.fetch(LIST.sql, "alice")
    await db.fetchval(COUNT.sql, "alice")


async def wrong(db: Executor) -> None:
    await db.fetch(GET.sql, "alice")  # wrong: fetch
    await db.fetchrow(LIST.sql, "alice")  # wrong: fetchrow
    await db.fetchrow(COUNT.sql, "alice")  # wrong: fetchrow
    await db.execute(GET.sql, "alice")  # wrong: execute
    await db.fetch(FILTER.sql)  # wrong: fetch
    await db.fetchrow("SELECT 1")  # wrong: fetchrow
"""


def test_mypy_refuses_sql_given_to_the_call_of_another_cardinality(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls.py"
    calls.write_text(CALLS)
    monkeypatch.chdir(ROOT)  # where mypy finds the service package
    options = ["--strict", "--config-file", "", "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache")]
    report, _, _ = mypy.run([*options, str(calls)])
    refused = {int(line) for line in re.findall(r"calls\.py:(\d+): error: Argument 1 to \"\w+\"", report)}
    expected = {number for number, line in enumerate(CALLS.splitlines(), start=1) if "# wrong" in line}
    assert refused == expected, report
    assert f"Found {len(expected)} errors" in report, report
