"""The named statements of sql/*.sql, bound when the module that runs them loads.

A query module binds each statement it runs once, at import, with the class of its cardinality::

    GET_TASK = One.bind("get_task")

    async def get_task(db: Executor, *, user_id: str, task_id: UUID) -> Task | None:
        row = await db.fetchrow(GET_TASK.sql, user_id, task_id)

``bind`` fails, naming the statement and the line that asked for it, when sql/*.sql has no
statement of that name or declares it with another cardinality: a wrong name stops start-up and
``make test``, never a request. The cardinality also fixes the asyncpg call: a ``One``'s SQL is
a ``OneSQL``, which only ``Executor.fetchrow`` takes, so ``db.fetch(GET_TASK.sql, ...)`` fails the
type check. At run time the SQL is a plain ``str``: a call costs no more than with a literal.
"""

from __future__ import annotations

import difflib
import traceback
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, NewType, Protocol, Self

import asyncpg

from service.db.sql import Query, load

# The text of a statement of each cardinality: a str at run time, four distinct types to mypy.
OneSQL = NewType("OneSQL", str)  # at most one row: fetchrow
ManySQL = NewType("ManySQL", str)  # any number of rows: fetch
ValSQL = NewType("ValSQL", str)  # the first column of the first row: fetchval
ExecSQL = NewType("ExecSQL", str)  # no rows, the command's status: execute


class Executor(Protocol):
    """What query functions run statements on: ``Database`` (a pooled connection per statement) or
    the connection of ``Database.transaction()``. Each call takes only SQL of its cardinality."""

    async def fetch(self, query: ManySQL, *args: Any) -> list[asyncpg.Record]: ...
    async def fetchrow(self, query: OneSQL, *args: Any) -> asyncpg.Record | None: ...
    async def fetchval(self, query: ValSQL, *args: Any) -> Any: ...
    async def execute(self, query: ExecSQL, *args: Any) -> str: ...


class BindError(LookupError):
    """Code asked for a statement that sql/*.sql does not have, or has with another cardinality."""


class Statement:
    """A named statement of sql/*.sql; ``source`` is the "file:line" of its name line."""

    __slots__ = ("name", "source", "sql")
    cardinality: ClassVar[str]

    def __init__(self, name: str, sql: str, source: str) -> None:
        self.name = name
        self.sql = sql
        self.source = source

    @classmethod
    def bind(cls, name: str) -> Self:
        """The statement ``name``, which sql/*.sql must declare with this class's cardinality."""
        query = _named().get(name)
        if query is None:
            raise BindError(f"{_caller()}: no statement named {name!r} in sql/*.sql{_did_you_mean(name)}")
        if query.cardinality != cls.cardinality:
            raise BindError(
                f"{_caller()}: {cls.__name__}.bind({name!r}) needs a {cls.cardinality} statement, "
                f"and {query.source} declares {name!r} {query.cardinality}"
            )
        return cls(query.name, query.sql, query.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.source})"


class One(Statement):
    """At most one row: ``await db.fetchrow(STATEMENT.sql, ...)``."""

    __slots__ = ()
    cardinality = ":one"
    sql: OneSQL


class Many(Statement):
    """Any number of rows: ``await db.fetch(STATEMENT.sql, ...)``."""

    __slots__ = ()
    cardinality = ":many"
    sql: ManySQL


class Val(Statement):
    """One value, the first column of the first row: ``await db.fetchval(STATEMENT.sql, ...)``."""

    __slots__ = ()
    cardinality = ":val"
    sql: ValSQL


class Exec(Statement):
    """No rows, only the command's status: ``await db.execute(STATEMENT.sql, ...)``."""

    __slots__ = ()
    cardinality = ":exec"
    sql: ExecSQL


class Fragment(Statement):
    """A piece that a statement builder composes into a ``Many``; no ``Executor`` call takes it alone."""

    __slots__ = ()
    cardinality = ":fragment"


@cache
def _named() -> dict[str, Query]:
    return load()


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, _named(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_ROOT = Path(__file__).resolve().parents[2]


def _caller() -> str:
    """The "file:line" that called ``bind``: where the statement was expected."""
    frame = traceback.extract_stack(limit=3)[0]  # [the caller, bind, _caller]
    path = Path(frame.filename)
    return f"{path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path}:{frame.lineno}"
