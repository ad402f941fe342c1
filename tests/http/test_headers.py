"""Headers every answer carries: nosniff everywhere, no-store on everything about a user, no versions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ALICE, TestClient

REQUESTS: list[tuple[str, str, dict[str, str], dict[str, Any] | None, int]] = [
    ("GET", "/api/alice/tasks", ALICE, None, 200),
    ("POST", "/api/alice/tasks", ALICE, {"title": "x"}, 201),
    ("GET", "/api/alice/tasks/stats", ALICE, None, 200),
    ("GET", "/api/alice/tags", ALICE, None, 200),
    ("GET", "/api/alice/tasks", {}, None, 401),
    ("GET", "/api/bob/tasks", ALICE, None, 403),
    ("GET", "/api/alice/tasks/00000000-0000-0000-0000-000000000000", ALICE, None, 404),
    ("GET", "/api/alice/tasks/not-a-uuid", ALICE, None, 400),
    ("POST", "/api/alice/tasks", ALICE, {"title": ""}, 400),
    ("GET", "/nowhere", {}, None, 404),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), REQUESTS)
async def test_api_answers_are_not_stored_nor_sniffed(
    client: TestClient, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None, status: int
) -> None:
    response = await client.request(method, path, headers=headers, json=body)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/docs", "/docs/openapi.json"])
async def test_public_answers_are_not_sniffed(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/alice/tasks", "DELETE, GET, OPTIONS, POST"),
        ("/api/alice/tasks/00000000-0000-0000-0000-000000000000", "DELETE, GET, OPTIONS, PATCH, PUT"),
        ("/api/alice/tasks/00000000-0000-0000-0000-000000000000/complete", "OPTIONS, PATCH"),
        ("/health", "GET, OPTIONS"),
    ],
)
async def test_options_lists_every_method_of_the_path(client: TestClient, path: str, allow: str) -> None:
    # Litestar 2 listed only the methods of the path's first handler (litestar#4169).
    response = await client.options(path, headers=ALICE)
    assert response.status_code == 204
    assert response.headers["allow"] == allow
