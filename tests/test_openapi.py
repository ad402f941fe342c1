"""The OpenAPI document the docs page renders: valid, and true to what the service does."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from tests.conftest import TestClient


async def schema(client: TestClient) -> dict[str, Any]:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_the_document_is_valid_openapi_3_1(client: TestClient) -> None:
    document = await schema(client)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises, naming the offending part, when the document is not valid


async def test_create_documents_its_location_header_and_problem_responses(client: TestClient) -> None:
    create = (await schema(client))["paths"]["/api/{user_id}/tasks"]["post"]
    assert create["responses"]["201"]["headers"]["Location"]["required"] is True
    for status in ("400", "401", "403", "413", "415", "503"):
        assert "application/problem+json" in create["responses"][status]["content"], status


async def test_the_toggle_body_is_optional_and_other_bodies_are_required(client: TestClient) -> None:
    paths = (await schema(client))["paths"]
    assert paths["/api/{user_id}/tasks/{task_id}/complete"]["patch"]["requestBody"]["required"] is False
    assert paths["/api/{user_id}/tasks/{task_id}"]["put"]["requestBody"]["required"] is True
    assert paths["/api/{user_id}/tasks"]["post"]["requestBody"]["required"] is True


async def test_title_limits_are_stated(client: TestClient) -> None:
    title = (await schema(client))["components"]["schemas"]["TaskCreate"]["properties"]["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 200)
