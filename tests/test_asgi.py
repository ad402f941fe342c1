"""The outer stack (service.asgi) sees every request, whatever answers it and wherever in the stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.app import create_app
from tests.conftest import ALICE, CapturedLog, TestClient, make_settings
from tests.support.trickle import trickled_create


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
    sent = await trickled_create(app, [*headers, (b"x-request-id", b"slow-1")])
    start, body = sent[0], b"".join(message.get("body", b"") for message in sent[1:])
    assert start["status"] == 408
    assert (b"x-request-id", b"slow-1") in start["headers"]
    assert json.loads(body)["request_id"] == "slow-1"
    [line] = access_lines(json_log)
    assert (line["status"], line["request_id"]) == (408, "slow-1")
