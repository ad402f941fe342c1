"""The key header's rule, and what makes two requests the same request (no database)."""

from __future__ import annotations

import re

import pytest

from service.http.field_errors import FieldError
from service.idempotency.keys import HEADER, KEY_PATTERN, fingerprint, key_of

BODY = b'{"title": "Buy milk", "tags": ["a", "b"], "due_at": null}'


def print_of(body: bytes = BODY, method: str = "POST", path: str = "/api/alice/tasks", query: bytes = b"") -> bytes:
    return fingerprint(method, path, query, body)


@pytest.mark.parametrize(
    "same",
    [
        b'{"title":"Buy milk","tags":["a","b"],"due_at":null}',
        b'{\n  "due_at": null,\n  "tags": [ "a", "b" ],\n  "title": "Buy milk"\n}\n',
        b'{"title": "Buy milk", "tags": ["a", "b"], "due_at": null, "title": "Buy milk"}',
        b'{"title": "Buy \\u006dilk", "tags": ["a", "b"], "due_at": null}',  # the same string, escaped
    ],
)
def test_the_same_json_value_is_the_same_request(same: bytes) -> None:
    assert print_of(same) == print_of()


@pytest.mark.parametrize(
    "other",
    [
        b'{"title": "Buy milk", "tags": ["b", "a"], "due_at": null}',  # array order is the value's
        b'{"title": "Buy milk ", "tags": ["a", "b"], "due_at": null}',
        b'{"title": "Buy milk", "tags": ["a", "b"]}',  # null is not absent
        b'{"title": "Buy milk", "tags": ["a", "b"], "due_at": 0}',
        b"",
        b"not json",
    ],
)
def test_another_json_value_is_another_request(other: bytes) -> None:
    assert print_of(other) != print_of()


def test_method_path_and_query_make_the_request_but_not_the_order_of_the_query() -> None:
    assert print_of(method="PUT") != print_of()
    assert print_of(path="/api/alice/tasks/") != print_of()
    assert print_of(query=b"a=1") != print_of()
    assert print_of(query=b"a=1&b=2&a=0") == print_of(query=b"b=2&a=0&a=1")
    assert print_of(query=b"a=%20") == print_of(query=b"a=+")  # both a space
    assert print_of(query=b"a=") != print_of(query=b"")


def test_a_body_that_is_not_json_counts_as_its_bytes() -> None:
    assert print_of(b"title=x") == print_of(b"title=x")
    assert print_of(b"title=x") != print_of(b"title=y")
    assert print_of(b'"raw "') != print_of(b"raw ")  # a JSON string is not the bytes it spells
    assert len(print_of()) == 32


@pytest.mark.parametrize("key", ["a", "x" * 255, "!~", "3f0a6f4e-8a8e-4c8a-9a7a-2d7f0c1b9e11", '"quoted"'])
def test_a_key_of_visible_ascii_is_taken_as_sent(key: str) -> None:
    assert key_of([key.encode()]) == key
    assert re.fullmatch(KEY_PATTERN, key)


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, b"a b", b" ", b"tab\t", "café".encode(), b"\x7f", b"nul\x00"], ids=repr
)
def test_any_other_key_is_refused_naming_the_header(key: bytes) -> None:
    with pytest.raises(FieldError) as refused:
        key_of([key])
    assert (refused.value.field, refused.value.source) == (HEADER, "header")
    assert not re.fullmatch(KEY_PATTERN, key.decode("latin-1"))


def test_several_keys_are_refused() -> None:
    with pytest.raises(FieldError, match="one key"):
        key_of([b"a", b"a"])
