"""Refused input as data: which field, what is wrong with it, and where the client sent it.

Our own checks raise ``FieldError``; ``service.http.problems`` turns it into the problem body,
and nothing reads a field name back out of a message. msgspec is the exception: it says where
an error is only in its message text, so ``from_msgspec`` reads that text, in this one place,
in the format ``tests/http/test_field_errors.py`` pins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

Source = Literal["body", "query", "path", "header", "cookie"]


class FieldError(ValueError):
    """One input the service refuses.

    ``field`` is None when the fault is in a whole object rather than one of its fields, such as
    an update that names no field at all.

    A ValueError, so that raised in a Struct's ``__post_init__`` it comes out of msgspec wrapped
    in a ValidationError that carries it as ``__cause__`` and says where that Struct sits in
    the document: ``from_msgspec`` then names the field by its whole path (``tasks[3].title``).
    """

    def __init__(self, field: str | None, message: str, source: Source = "body") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.source = source

    @property
    def key(self) -> str:
        """The field as a problem body names it; the object at the top of a body is ``body``."""
        return self.field or "body"


class FieldErrors(Exception):
    """Every refused input of one request, answered together."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__(describe(self.errors))


def describe(errors: Iterable[FieldError]) -> str:
    """Every refused input in one line, as a problem body's ``detail`` says it."""
    return "; ".join(f"{error.key}: {error.message}" for error in errors)


# What msgspec 0.22 appends to an error below the top of the document: " - at `$.tags[0]`".
_WHERE = re.compile(r"(?P<message>.*) - at `\$(?P<path>[^`]*)`", re.DOTALL)
# Its two errors about a field that is there and should not be, or should be and is not.
_FIELD_NAMED = re.compile(r"Object (?P<problem>missing required|contains unknown) field `(?P<field>.*)`", re.DOTALL)
_ABOUT_A_FIELD = {"missing required": "required field is missing", "contains unknown": "unknown field"}


def from_msgspec(error: msgspec.ValidationError, source: Source) -> FieldError:
    """The field a msgspec ValidationError is about, named by its path from the top of the document."""
    message, path = str(error), ""
    if where := _WHERE.fullmatch(message):
        message, path = where["message"], where["path"].removeprefix(".")
    if isinstance(ours := error.__cause__, FieldError):  # raised by a check in a Struct's __post_init__
        return FieldError(_join(path, ours.field), ours.message, source)
    if named := _FIELD_NAMED.fullmatch(message):
        return FieldError(_join(path, named["field"]), _ABOUT_A_FIELD[named["problem"]], source)
    return FieldError(path or None, message, source)


def _join(path: str, field: str | None) -> str | None:
    if field is None:
        return path or None
    return f"{path}.{field}" if path else field
