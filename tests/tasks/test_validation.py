"""Bad input gets a clear 4xx problem, never a 500, and never changes data."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.db.pool import Database
from service.http import body
from service.lists.schemas import ListWrite
from service.tasks.schemas import CompletedUpdate, TaskCreate, TaskMove, TaskReplace, TaskUpdate
from tests.conftest import ALICE, TestClient

JSON_ALICE = {**ALICE, "Content-Type": "application/json"}


async def post_raw(client: TestClient, content: bytes, headers: dict[str, str] = JSON_ALICE) -> Any:
    return await client.post("/api/alice/tasks", content=content, headers=headers)


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("a", "a"),
        ("x" * 200, "x" * 200),
        ("  padded\t\n", "padded"),
        (" " + "y" * 200 + " ", "y" * 200),  # the limit applies after trimming
        ("ü" * 200, "ü" * 200),  # characters, not bytes
        ("Milk 🥛", "Milk 🥛"),
    ],
)
async def test_titles_within_the_limit_are_stored_trimmed(
    client: TestClient, admin: asyncpg.Connection, title: str, stored: str
) -> None:
    response = await client.post("/api/alice/tasks", json={"title": title}, headers=ALICE)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == stored
    assert await admin.fetchval("SELECT title FROM tasks") == stored


@pytest.mark.parametrize("title", ["", "   ", "\t\n", "x" * 201, "a\x00b", 42, None, ["a"]])
async def test_bad_titles_are_400_with_the_field_named(
    client: TestClient, admin: asyncpg.Connection, title: Any
) -> None:
    response = await client.post("/api/alice/tasks", json={"title": title}, headers=ALICE)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["detail"].startswith("title: ")
    assert [error["key"] for error in problem["errors"]] == ["title"]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize(("description", "status"), [("d" * 1000, 201), ("d" * 1001, 400), ("", 201), (None, 201)])
async def test_description_limit(client: TestClient, description: str | None, status: int) -> None:
    response = await client.post("/api/alice/tasks", json={"title": "t", "description": description}, headers=ALICE)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t", "completed": True},  # completed is not writable on create
        {"title": "t", "user_id": "bob"},
        {"title": "t", "id": "3f0a6f4e-8a8e-4c8a-9a7a-2d7f0c1b9e11"},
        {"title": "t", "created_at": "2020-01-01T00:00:00Z"},
    ],
)
async def test_unknown_or_server_owned_fields_are_rejected(
    client: TestClient, admin: asyncpg.Connection, body: dict[str, Any]
) -> None:
    response = await client.post("/api/alice/tasks", json=body, headers=ALICE)
    assert response.status_code == 400
    (field,) = set(body) - {"title"}
    assert response.json()["detail"] == f"{field}: unknown field"
    assert response.json()["errors"] == [{"key": field, "message": "unknown field", "source": "body"}]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        # Only a lenient reading takes these: a number for a date, 0/1 or a string for a boolean.
        ("POST", {"title": "t", "due_at": 0}, "due_at"),
        ("POST", {"title": "t", "due_at": 1767225600.5}, "due_at"),
        ("POST", {"title": "t", "priority": 2}, "priority"),
        ("PUT", {"title": "t", "completed": 1}, "completed"),
        ("PATCH", {"completed": "true"}, "completed"),
        ("PATCH", {"title": 5}, "title"),
    ],
)
async def test_values_of_the_wrong_json_type_are_400_and_change_nothing(
    client: TestClient, admin: asyncpg.Connection, method: str, body: dict[str, Any], field: str
) -> None:
    task = (await client.post("/api/alice/tasks", json={"title": "kept"}, headers=ALICE)).json()
    url = "/api/alice/tasks" if method == "POST" else f"/api/alice/tasks/{task['id']}"
    response = await client.request(method, url, json=body, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in response.json()["errors"]] == [field]
    assert [tuple(row) for row in await admin.fetch("SELECT title, completed, due_at FROM tasks")] == [
        ("kept", False, None)
    ]


@pytest.mark.parametrize(
    "content", [b"{", b'{"title": "x"', b"not json", b'["title"]', b'"title"', b"null", b"\xff\xfe"]
)
async def test_malformed_or_non_object_json_is_400(client: TestClient, content: bytes) -> None:
    response = await post_raw(client, content)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


async def test_a_missing_field_is_named(client: TestClient) -> None:
    response = await client.post("/api/alice/tasks", json={"description": "no title"}, headers=ALICE)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"key": "title", "message": "required field is missing", "source": "body"}]


async def test_missing_body_is_400(client: TestClient) -> None:
    response = await post_raw(client, b"")
    assert response.status_code == 400
    assert response.json()["detail"] == "a JSON request body is required"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
async def test_a_body_that_is_not_json_is_415(
    client: TestClient, admin: asyncpg.Connection, content_type: str | None
) -> None:
    headers = dict(ALICE)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/api/alice/tasks", content=b'{"title": "x"}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "application/json" in response.json()["detail"]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json", "APPLICATION/JSON"]
)
async def test_json_media_type_variants_are_accepted(client: TestClient, content_type: str) -> None:
    response = await post_raw(client, b'{"title": "x"}', {**ALICE, "Content-Type": content_type})
    assert response.status_code == 201


@pytest.mark.parametrize(("size", "status"), [(65_536, 201), (65_537, 413)])
async def test_a_body_at_the_limit_is_read_and_one_byte_more_is_413(
    client: TestClient, admin: asyncpg.Connection, size: int, status: int
) -> None:
    # MAX_BODY_BYTES (65,536 by default) counts the bytes sent: white space is padding JSON allows.
    body = b'{"title": "edge"' + b" " * (size - 17) + b"}"
    assert len(body) == size
    response = await post_raw(client, body)
    assert response.status_code == status, response.text
    assert await admin.fetchval("SELECT count(*) FROM tasks") == (1 if status == 201 else 0)


async def test_an_oversized_body_is_413(client: TestClient, admin: asyncpg.Connection) -> None:
    response = await post_raw(client, b'{"title": "' + b"x" * 70_000 + b'"}')
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/alice/tasks/123",
        "/api/alice/tasks/3f0a6f4e-8a8e-4c8a-9a7a",
        "/api/alice/tasks/%00",
        "/api/alice/tasks/' OR 1=1 --",
    ],
)
async def test_malformed_task_ids_are_400_not_500(client: TestClient, path: str) -> None:
    response = await client.get(path, headers=ALICE)
    assert response.status_code == 400
    assert "task_id" in response.json()["detail"]


async def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = await client.get("/api/alice/nothing-here", headers=ALICE)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_text_with_nul_that_slips_past_the_checks_is_a_400_not_a_500(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Every input is checked for NUL before SQL; a route that forgot to would still not answer 500.
    @get("/api/{user_id:str}/echo")
    async def unchecked(db: NamedDependency[Database], user_id: FromPath[str], text: FromQuery[str]) -> None:
        await db.fetch("SELECT $1::text", text)

    app = create_app(settings)
    app.register(unchecked)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/api/alice/echo", params={"text": "a\x00b"}, headers=ALICE)
    assert response.status_code == 400
    assert response.json()["detail"] == "a text value holds a NUL character, which cannot be stored"
    assert "text with NUL reached the database during GET /api/alice/echo" in caplog.text


REQUEST_BODIES = (TaskCreate, TaskReplace, TaskUpdate, CompletedUpdate, TaskMove, ListWrite)


async def test_strict_decoding_keeps_one_decoder_per_body_type(client: TestClient) -> None:
    # Decoders are made per body type when routes are registered, never per request or per handler copy.
    made = body._strict_decoder.cache_info().currsize
    for n in range(30):
        task = (await client.post("/api/alice/tasks", json={"title": f"t{n}"}, headers=ALICE)).json()
        await client.patch(f"/api/alice/tasks/{task['id']}", json={"priority": "high"}, headers=ALICE)
    assert body._strict_decoder.cache_info().currsize == made
    assert body._strict_decoder.cache_info().currsize <= len(REQUEST_BODIES) + 1  # + the toggle's None
