"""The loader of sql/*.sql: named statements, sqlc style, each with its cardinality.

A file holds statements like::

    -- name: get_task :one
    -- One task, only if it belongs to the user.
    SELECT ... WHERE user_id = $1 AND id = $2;

Query modules do not read what this returns themselves: they bind each statement they run
through ``service.db.statements``, which loads the files once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[^\s:]*)\s*(?P<cardinality>:\S+)?\s*$")
CARDINALITIES = frozenset({":one", ":many", ":exec", ":val", ":fragment"})  # a fragment is composed into another


class Query(NamedTuple):
    name: str
    cardinality: str
    sql: str
    source: str  # "file:line" of the name line, for error messages and the user_id check


class SQLFileError(ValueError):
    """A SQL file is malformed; the message names the file and line."""


def parse(text: str, filename: str) -> dict[str, Query]:
    queries: dict[str, Query] = {}
    current: tuple[str, str, str] | None = None
    body: list[str] = []

    def finish() -> None:
        if current is None:
            return
        name, cardinality, source = current
        sql = "\n".join(line for line in body if not line.lstrip().startswith("--")).strip()
        if not sql:
            raise SQLFileError(f"{source}: query {name!r} has no SQL")
        queries[name] = Query(name, cardinality, sql.rstrip(";").strip(), source)

    for number, line in enumerate(text.splitlines(), start=1):
        match = _NAME_LINE.match(line)
        if match is None:
            if current is None and line.strip() and not line.lstrip().startswith("--"):
                raise SQLFileError(f"{filename}:{number}: SQL before the first '-- name:' line")
            body.append(line)
            continue
        finish()
        name, cardinality = match["name"], match["cardinality"]
        source = f"{filename}:{number}"
        if not name.isidentifier():
            raise SQLFileError(f"{source}: query name {name!r} is empty or not an identifier")
        if cardinality not in CARDINALITIES:
            raise SQLFileError(f"{source}: query {name!r} needs one of {sorted(CARDINALITIES)}")
        if name in queries:
            raise SQLFileError(f"{source}: duplicate query name {name!r}")
        current, body = (name, cardinality, source), []
    finish()
    return queries


def load(directory: Path = SQL_DIR) -> dict[str, Query]:
    """Every named query of every ``*.sql`` file in ``directory``; names are unique across files."""
    queries: dict[str, Query] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, query in parse(path.read_text(encoding="utf-8"), path.name).items():
            if name in queries:
                raise SQLFileError(f"{query.source}: duplicate query name {name!r} (also {queries[name].source})")
            queries[name] = query
    return queries
