"""The tags routes' response shapes."""

from __future__ import annotations

import msgspec


class TagCount(msgspec.Struct):
    tag: str
    tasks: int
