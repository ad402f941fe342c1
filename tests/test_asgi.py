"""The outer stack (service.asgi) sees every request, whatever answers it and wherever in the stack."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, CapturedLog, TestClient, make_settings


def access_lines(log: CapturedLog) -> list[dict[str, Any]]:
    return [line for line in log.lines() if line["logger"] == "service.access"]


@pytest.mark.parametrize(
    ("method", "path", "token", "body", "status", "route"),
    [
        ("GET", "/no/such/route", {}, None, 404, "(no route)"),  # Litestar's router answers
        ("PUT", "/api/alice/tasks", ALICE, None, 405, "(no route)"),  # a path without that method
        ("GET", "/api/alice/tasks", {}, None, 401, "/api/{user_id}/tasks"),  # the route middleware refuses
        ("POST", "/api/alice/tasks", ALICE, b"x" * 70_000, 413, "/api/{user_id}/tasks"),  # past MAX_BODY_BYTES
    ],
)
async def test_every_answer_passes_the_outer_layers(
    client: TestClient,
    json_log: CapturedLog,
    method: str,
    path: str,
    token: dict[str, str],
    body: bytes | None,
    status: int,
    route: str,
) -> None:
    headers = {**token, "Content-Type": "application/json", "X-Request-ID": f"every-{status}"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["x-request-id"] == f"every-{status}"
    assert response.json()["request_id"] == f"every-{status}"
    [line] = access_lines(json_log)
    assert (line["status"], line["route"], line["request_id"]) == (status, route, f"every-{status}")


async def test_a_trickled_body_is_refused_inside_the_request_id_and_the_access_line(
    migrated: str, json_log: CapturedLog
) -> None:
    # BodyDeadline answers from within the app's receive: the id layer and the access line are
    # outside it, so its 408 carries the id and is logged as the client saw it.
    app = create_app(make_settings(migrated, body_timeout_seconds=0.2))
    headers = [*((name.lower().encode(), value.encode()) for name, value in ALICE.items())]
    headers += [(b"content-type", b"application/json"), (b"content-length", b"30"), (b"x-request-id", b"slow-1")]
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
        "headers": headers,
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
    start, body = sent[0], b"".join(message.get("body", b"") for message in sent[1:])
    assert start["status"] == 408
    assert (b"x-request-id", b"slow-1") in start["headers"]
    assert json.loads(body)["request_id"] == "slow-1"
    [line] = access_lines(json_log)
    assert (line["status"], line["request_id"]) == (408, "slow-1")
