"""Every response carries a request id, and so do its problem body and its log lines."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ALICE, CapturedLog, TestClient


async def test_a_new_id_is_made_when_none_is_given(client: TestClient) -> None:
    first = await client.get("/api/alice/tasks", headers=ALICE)
    second = await client.get("/api/alice/tasks", headers=ALICE)
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_id_from_the_client_is_kept(client: TestClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "lb-7f3a:42.1_x"})
    assert response.headers["x-request-id"] == "lb-7f3a:42.1_x"


@pytest.mark.parametrize("given", ["", "a" * 129, "has space", 'quote"', "line\\nbreak", "<script>"])
async def test_an_unsafe_id_is_replaced(client: TestClient, given: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_problem_bodies_carry_the_id(client: TestClient) -> None:
    response = await client.get("/api/alice/tasks", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 401
    assert response.json()["request_id"] == "trace-1"
    assert response.headers["x-request-id"] == "trace-1"


async def test_log_lines_of_a_request_carry_its_id(client: TestClient, json_log: CapturedLog) -> None:
    await client.get("/api/alice/tasks", headers={**ALICE, "X-Request-ID": "trace-2"})
    access = json_log.lines()
    assert [line["request_id"] for line in access if line["logger"] == "service.access"] == ["trace-2"]


async def test_browsers_may_read_and_send_the_id(client: TestClient) -> None:
    preflight = await client.options(
        "/api/alice/tasks",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, x-request-id",
        },
    )
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
    response = await client.get("/api/alice/tasks", headers={**ALICE, "Origin": "http://localhost:3000"})
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
