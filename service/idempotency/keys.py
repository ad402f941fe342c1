"""The Idempotency-Key header, how long its answer is kept, and what makes a request a repeat.

A repeat is the same method, path, query and body: the query as sorted pairs, so their order does
not matter, and a JSON body as the value it holds, so neither does spacing or the order of keys.
A body that is not JSON counts as its bytes (the handler refuses it anyway).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import parse_qsl

import msgspec

from service.http.field_errors import FieldError

HEADER = "Idempotency-Key"
KEY_MAX = 255
KEY_PATTERN = rf"^[\x21-\x7E]{{1,{KEY_MAX}}}$"  # visible ASCII, as the OpenAPI document states it
LIFETIME = timedelta(hours=24)  # how long a recorded answer is replayed; the contract's 24 h

_NAME = HEADER.lower().encode()
_KEY = re.compile(rb"[\x21-\x7e]{1,%d}" % KEY_MAX)


def sent_keys(headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """The values of every Idempotency-Key header of a request (ASGI names them in lower case)."""
    return [value for name, value in headers if name == _NAME]


def key_of(values: list[bytes]) -> str:
    """The one key a request sent; a FieldError naming the header when it is not a usable key."""
    if len(values) > 1:
        raise FieldError(HEADER, "send one key, not several", "header")
    if not _KEY.fullmatch(values[0]):
        raise FieldError(HEADER, f"must be 1 to {KEY_MAX} visible ASCII characters (no spaces)", "header")
    return values[0].decode("ascii")


def fingerprint(method: str, path: str, query_string: bytes, body: bytes) -> bytes:
    """sha256 of what makes a request the same request, 32 bytes."""
    query = sorted(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    digest = hashlib.sha256(msgspec.json.encode([method, path, query]))  # a JSON array: it says where it ends
    try:
        digest.update(b"json " + msgspec.json.encode(msgspec.json.decode(body), order="sorted"))
    except msgspec.MsgspecError:
        digest.update(b"raw " + body)
    return digest.digest()
