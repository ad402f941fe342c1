"""The OpenAPI document the docs page renders: valid, and true to what the service does."""

from __future__ import annotations

import re
import sys
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from openapi_spec_validator import validate

from service.http.openapi import WHITE_SPACE, say_what_is_enforced
from service.tasks.schemas import TIME_ZONES
from tests.conftest import ALICE, TestClient


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


TRIMMED = ["x", "x" * 200, " x" * 100, "\t" + "x" * 200 + "\n ", "a b", "é" * 32, "x" * 32, "  x" + " " * 40]
TRIMMED += ["\u3000x\x1d"]  # white space to Python, which trims, and not to every regex engine
NOT_TRIMMED = ["", "   ", "\t\n", "x" * 201, " " + "x" * 201, "a\x00b", "\x00", "\x1d", "\u2028 \xa0"]


def test_white_space_in_patterns_is_what_python_trims() -> None:
    spelled_out = re.compile(f"[{WHITE_SPACE}]")
    everything = map(chr, range(sys.maxunicode + 1))
    assert [c for c in everything if bool(spelled_out.fullmatch(c)) is not c.isspace()] == []


@pytest.mark.parametrize("title", TRIMMED + NOT_TRIMMED)
async def test_the_title_pattern_accepts_what_the_service_accepts(client: TestClient, title: str) -> None:
    # Its length counts after trimming, so the limits are a pattern, not minLength and maxLength.
    pattern = (await schema(client))["components"]["schemas"]["TaskCreate"]["properties"]["title"]["pattern"]
    created = await client.post("/api/alice/tasks", json={"title": title}, headers=ALICE)
    assert created.status_code in (201, 400)
    assert bool(re.search(pattern, title)) is (created.status_code == 201)


@pytest.mark.parametrize("tag", TRIMMED + NOT_TRIMMED + ["x" * 33, " " + "x" * 33])
async def test_the_tag_pattern_accepts_what_the_service_accepts(client: TestClient, tag: str) -> None:
    document = await schema(client)
    in_body = document["components"]["schemas"]["TaskCreate"]["properties"]["tags"]["items"]["pattern"]
    listing = document["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]
    in_query = next(p for p in listing if p["name"] == "tag")["schema"]["items"]["pattern"]
    assert in_body == in_query
    created = await client.post("/api/alice/tasks", json={"title": "t", "tags": [tag]}, headers=ALICE)
    listed = await client.get("/api/alice/tasks", params={"tag": tag}, headers=ALICE)
    assert (created.status_code == 201) is (listed.status_code == 200) is bool(re.search(in_body, tag))


async def test_the_list_documents_every_parameter_with_its_limits(client: TestClient) -> None:
    operation = (await schema(client))["paths"]["/api/{user_id}/tasks"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) >= {
        "completed",
        "priority",
        "tag",
        "due_before",
        "due_after",
        "overdue",
        "q",
        "sort",
        "limit",
        "cursor",
    }
    assert all(parameters[name].get("description") for name in parameters if name != "user_id")
    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 100)
    assert "-due_at" in str(parameters["sort"]["schema"])
    assert "link" in {name.lower() for name in operation["responses"]["200"]["headers"]}


async def test_conditional_requests_are_documented(client: TestClient) -> None:
    paths = (await schema(client))["paths"]
    task = paths["/api/{user_id}/tasks/{task_id}"]
    assert "304" in task["get"]["responses"]
    assert "If-None-Match" in {parameter["name"] for parameter in task["get"]["parameters"]}
    for method in ("put", "patch", "delete"):
        assert "412" in task[method]["responses"], method
        assert "If-Match" in {parameter["name"] for parameter in task[method]["parameters"]}, method
    assert "ETag" in task["put"]["responses"]["200"]["headers"]
    assert {"/api/{user_id}/tasks/stats", "/api/{user_id}/tags"} <= set(paths)


async def test_request_bodies_say_what_the_service_refuses(client: TestClient) -> None:
    schemas = (await schema(client))["components"]["schemas"]
    for name in ("TaskCreate", "TaskReplace", "TaskUpdate", "CompletedUpdate"):
        assert schemas[name]["additionalProperties"] is False, name  # unknown fields are a 400
    pattern = re.compile(schemas["TaskCreate"]["properties"]["title"]["pattern"])
    assert pattern.search("Buy milk")
    assert not pattern.search(" \t ")  # blank after trimming is a 400
    assert not pattern.search("a\x00b")
    for tags in (schemas[name]["properties"]["tags"] for name in ("TaskCreate", "TaskReplace")):
        assert not re.search(tags["items"]["pattern"], "   ")
    assert not re.search(schemas["TaskUpdate"]["properties"]["tags"]["oneOf"][0]["items"]["pattern"], "   ")
    # The service refuses exactly these.
    for body in ({"title": "x", "extra": 1}, {"title": "   "}, {"title": "x", "tags": ["  "]}):
        assert (await client.post("/api/alice/tasks", json=body, headers=ALICE)).status_code == 400


async def test_parameters_say_what_the_service_refuses(client: TestClient) -> None:
    paths = (await schema(client))["paths"]
    clear = next(p for p in paths["/api/{user_id}/tasks"]["delete"]["parameters"] if p["name"] == "completed")
    assert clear["schema"]["enum"] == [True]
    task = paths["/api/{user_id}/tasks/{task_id}"]
    for method, name in (("get", "If-None-Match"), ("put", "If-Match"), ("delete", "If-Match")):
        header = next(p for p in task[method]["parameters"] if p["name"] == name)
        pattern = re.compile(header["schema"]["pattern"])
        assert pattern.match('"660da8a536a40"')
        assert pattern.match('W/"a", "b"')
        assert pattern.match("*")
        assert not pattern.match("660da8a536a40")  # unquoted: a 400
    stats = next(p for p in paths["/api/{user_id}/tasks/stats"]["get"]["parameters"] if p["name"] == "tz")
    assert {"UTC", "Europe/Paris", "Pacific/Kiritimati"} <= set(stats["schema"]["enum"])


async def test_no_parameter_may_be_null(client: TestClient) -> None:
    # Litestar writes an optional parameter as oneOf [X, null]; a URL or a header has no null.
    for item in (await schema(client))["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                assert "null" not in str(parameter["schema"]), parameter


async def test_the_time_zones_are_those_postgresql_knows(admin: asyncpg.Connection) -> None:
    assert {row["name"] for row in await admin.fetch("SELECT name FROM pg_timezone_names")} >= TIME_ZONES


class Part(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class Whole(msgspec.Struct, forbid_unknown_fields=True):
    parts: list[Part]
    spare: Part | None = None


class Loose(msgspec.Struct):
    name: str


def test_every_request_struct_that_refuses_unknown_fields_says_so_at_any_depth() -> None:
    @post("/wholes")
    async def create_whole(data: JSONBody[Whole]) -> None:
        return None

    @post("/loose")
    async def create_loose(data: JSONBody[Loose]) -> None:
        return None

    app = Litestar([create_whole, create_loose])
    say_what_is_enforced(app)
    schemas = (app.openapi_schema.components.schemas if app.openapi_schema.components else None) or {}
    assert {name: schema.additional_properties for name, schema in schemas.items()} == {
        "Whole": False,
        "Part": False,
        "Loose": None,  # it drops unknown fields: they are allowed
    }
