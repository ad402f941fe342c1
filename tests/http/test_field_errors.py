"""Refused input names its field as data; msgspec's messages are read in one place, in a pinned format."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from service.http.field_errors import FieldError, FieldErrors, from_msgspec


class Item(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    size: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        if self.title == "refused":
            raise FieldError("title", "is refused")
        if self.title == "whole":
            raise FieldError(None, "the item as a whole is refused")


class Document(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Item]
    by_name: dict[str, Item] = {}


def refused(json: bytes) -> msgspec.ValidationError:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.Decoder(Document, strict=True).decode(json)
    return caught.value


# The exact text msgspec writes, then the field and message read from it. When an upgrade of
# msgspec words its errors differently, this fails here, before any field is named wrongly.
CASES = [
    (b'{"items": 5}', "Expected `array`, got `int` - at `$.items`", "items", "Expected `array`, got `int`"),
    (
        b'{"items": [{"title": "a"}, {"title": 1}]}',
        "Expected `str`, got `int` - at `$.items[1].title`",
        "items[1].title",
        "Expected `str`, got `int`",
    ),
    (
        b'{"items": [{"title": "a", "size": -1}]}',
        "Expected `int` >= 0 - at `$.items[0].size`",
        "items[0].size",
        "Expected `int` >= 0",
    ),
    (b"{}", "Object missing required field `items`", "items", "required field is missing"),
    (
        b'{"items": [{}]}',
        "Object missing required field `title` - at `$.items[0]`",
        "items[0].title",
        "required field is missing",
    ),
    (b'{"items": [], "extra": 1}', "Object contains unknown field `extra`", "extra", "unknown field"),
    (
        b'{"items": [{"title": "a", "x": 1}]}',
        "Object contains unknown field `x` - at `$.items[0]`",
        "items[0].x",
        "unknown field",
    ),
    (
        b'{"items": [], "by_name": {"k": {"title": 2}}}',
        "Expected `str`, got `int` - at `$.by_name[...].title`",
        "by_name[...].title",
        "Expected `str`, got `int`",
    ),
    (b"[]", "Expected `object`, got `array`", None, "Expected `object`, got `array`"),
]


@pytest.mark.parametrize(("json", "text", "field", "message"), CASES)
def test_msgspec_errors_keep_the_format_they_are_read_in(
    json: bytes, text: str, field: str | None, message: str
) -> None:
    error = refused(json)
    assert str(error) == text
    named = from_msgspec(error, "body")
    assert (named.field, named.message, named.source) == (field, message, "body")


def test_a_check_in_post_init_comes_out_of_msgspec_carried_with_its_place() -> None:
    # msgspec wraps a ValueError from __post_init__ (FieldError is one) in a ValidationError that
    # says where the Struct sits and carries the original as __cause__: the field is named whole.
    error = refused(b'{"items": [{"title": "a"}, {"title": "refused"}]}')
    assert str(error) == "is refused - at `$.items[1]`"
    assert isinstance(error.__cause__, FieldError)
    named = from_msgspec(error, "body")
    assert (named.field, named.message, named.key) == ("items[1].title", "is refused", "items[1].title")


def test_a_check_of_a_whole_object_is_named_by_its_place() -> None:
    named = from_msgspec(refused(b'{"items": [{"title": "whole"}]}'), "body")
    assert (named.field, named.message) == ("items[0]", "the item as a whole is refused")


def test_a_check_of_the_whole_body_is_named_body() -> None:
    class Update(msgspec.Struct):
        title: str | None = None

        def __post_init__(self) -> None:
            if self.title is None:
                raise FieldError(None, "give at least one field")

    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(b"{}", type=Update)
    named = from_msgspec(caught.value, "body")
    assert (named.field, named.key, named.message) == (None, "body", "give at least one field")


def test_msgspec_passes_other_exceptions_from_post_init_through_unwrapped() -> None:
    # Why FieldError is a ValueError: anything else would reach us without where it happened.
    class Strict(msgspec.Struct):
        title: str

        def __post_init__(self) -> None:
            raise LookupError("not a ValueError")

    with pytest.raises(LookupError):
        msgspec.json.decode(b'{"title": "a"}', type=Strict)


def test_several_errors_travel_together() -> None:
    errors = FieldErrors([FieldError("limit", "too big", "query"), FieldError("sort", "unknown", "query")])
    assert [error.key for error in errors.errors] == ["limit", "sort"]
    assert str(errors) == "limit: too big; sort: unknown"
