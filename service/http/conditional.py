"""Entity tags (RFC 9110 section 8.8.3), and the If-Match / If-None-Match lists that carry them.

A resource's ETag is its updated_at in microseconds: the database moves updated_at forward on
every change of its content, so the tag changes exactly when the representation does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from litestar import Response

from service.http.field_errors import FieldError

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_TAG_LIST = re.compile(rf"\s*{_TAG}\s*(?:,\s*{_TAG}\s*)*")
# What If-Match and If-None-Match accept, as the OpenAPI document states it.
HEADER_PATTERN = rf"^(?:\s*\*\s*|{_TAG_LIST.pattern})$"
_EACH_TAG = re.compile(r'(W/)?"([^"]*)"')


def etag(updated_at: datetime) -> str:
    return f'"{(updated_at - EPOCH) // _MICROSECOND:x}"'


def _tags(header: str, name: str) -> list[tuple[bool, str]]:
    """(weak, opaque value) of each tag in the list; a header that is not a list is a 400 naming it."""
    if not _TAG_LIST.fullmatch(header):
        message = f'{name} must be * or a list of entity tags like "5f2c01a3b4c5d"'
        raise FieldError(name, message, "header")
    return [(bool(weak), value) for weak, value in _EACH_TAG.findall(header)]


def if_match_versions(header: str | None) -> list[datetime] | None:
    """The updated_at values If-Match allows, or None when it does not restrict (absent, or ``*``).

    Strong comparison: a weak tag never matches, and neither does a tag this service did not make.
    """
    if header is None or header.strip() == "*":
        return None
    versions = []
    for weak, value in _tags(header, "If-Match"):
        if not weak and re.fullmatch(r"[0-9a-f]{1,14}", value):  # 14 hex digits reach past year 9999
            try:
                versions.append(EPOCH + int(value, 16) * _MICROSECOND)
            except OverflowError:
                continue
    return versions


def none_match(header: str | None, current: str) -> bool:
    """Whether If-None-Match lets the request proceed, i.e. no listed tag (weakly) matches ``current``."""
    if header is None:
        return True
    if header.strip() == "*":
        return False
    return all(value != current.strip('"') for _, value in _tags(header, "If-None-Match"))


def with_etag(
    content: T, updated_at: datetime, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[T]:
    """``content`` with the ETag of the version ``updated_at`` names."""
    return Response(content, status_code=status_code, headers={"ETag": etag(updated_at), **(headers or {})})
