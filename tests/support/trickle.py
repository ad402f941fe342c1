"""A create whose body starts and never finishes, sent straight to an app's ASGI callable."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def trickled_create(app: Litestar, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """The messages ``app`` sends for a POST of alice's task whose 30-byte body stops after 14 bytes."""
    scope: Any = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/alice/tasks",
        "raw_path": b"/api/alice/tasks",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", b"30")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    chunks: list[dict[str, Any]] = [{"type": "http.request", "body": b'{"title": "tri', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the rest of the body never comes
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with AsyncTestClient(app=app):  # the app's lifespan: its pool
        await asyncio.wait_for(app(scope, receive, send), timeout=5)  # type: ignore[arg-type]
    return sent
