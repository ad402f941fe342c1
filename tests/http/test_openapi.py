"""The OpenAPI document the docs page renders: valid, and true to what the service does."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import msgspec
import pytest
import schemathesis
from litestar import Litestar, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.config import load_settings
from service.http import rate_limit
from service.http.docs import AUTH_PROBLEMS, BODY_PROBLEMS
from service.http.openapi import WHITE_SPACE, say_what_is_enforced
from service.idempotency.middleware import KeylessOperation
from service.tasks.schemas import TIME_ZONES
from tests.conftest import ALICE, TestClient, bearer, make_settings


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


async def test_every_write_documents_the_idempotency_key_and_its_replays(client: TestClient) -> None:
    document = await schema(client)
    erase = ("/api/{user_id}", "delete")  # safe to repeat, and leaves no row of the user: no key (service.account)
    writes = [
        (path, operation)
        for path, method, operation in operations(document)
        if method in WRITES and (path, method) != erase
    ]
    assert len(writes) == 14  # tasks 7, lists 3, trash 3, import
    [erasing] = [operation for path, method, operation in operations(document) if (path, method) == erase]
    assert "Idempotency-Key" not in {parameter["name"] for parameter in erasing["parameters"]}
    for path, operation in writes:
        assert path.startswith("/api/{user_id}/")
        [key] = [parameter for parameter in operation["parameters"] if parameter["name"] == "Idempotency-Key"]
        assert (key["in"], key["required"]) == ("header", False)
        assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
        assert "422" in key["description"]
        successes = [response for status, response in operation["responses"].items() if status.startswith("2")]
        assert successes
        assert all("Idempotent-Replayed" in response["headers"] for response in successes)
        assert "Retry-After" in operation["responses"]["409"]["headers"]
        assert "application/problem+json" in operation["responses"]["422"]["content"]
    for _path, method, operation in operations(document):
        if method not in WRITES or (_path, method) == erase:
            assert "Idempotency-Key" not in {parameter["name"] for parameter in operation.get("parameters", [])}


@pytest.mark.parametrize(
    "key", ["k", "~" * 255, "!", "3f0a6f4e-8a8e", "", "x" * 256, "a b", "caf\u00e9", "tab\t", "\x7f"], ids=repr
)
async def test_the_idempotency_key_pattern_accepts_what_the_service_accepts(client: TestClient, key: str) -> None:
    create = (await schema(client))["paths"]["/api/{user_id}/tasks"]["post"]
    [parameter] = [parameter for parameter in create["parameters"] if parameter["name"] == "Idempotency-Key"]
    headers = [(b"authorization", ALICE["Authorization"].encode()), (b"idempotency-key", key.encode())]
    created = await client.post("/api/alice/tasks", json={"title": "t"}, headers=headers)
    assert created.status_code in (201, 400)
    assert bool(re.search(parameter["schema"]["pattern"], key)) is (created.status_code == 201)


async def test_no_parameter_may_be_null(client: TestClient) -> None:
    # Litestar writes an optional parameter as oneOf [X, null]; a URL or a header has no null. (The
    # string "null" is a value like any other: list_id=null asks for the inbox.)
    for item in (await schema(client))["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                assert "'type': 'null'" not in str(parameter["schema"]), parameter


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


METHODS = ("get", "put", "post", "delete", "patch")
WRITES = ("put", "post", "delete", "patch")
DEFAULTS = load_settings(environ={}, env_file=os.devnull)
CAROL = bearer("carol")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def path_parameters(path: str, user: str) -> dict[str, str]:
    """A value for each of the path's parameters: the user's id, and a made-up id for anything else."""
    return {name: user if name == "user_id" else str(uuid4()) for name in re.findall(r"{(\w+)}", path)}


@pytest.fixture
async def as_deployed(migrated: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    """The app with the default rate limit, on a stopped clock: a spent burst stays spent."""
    stopped = time.time()
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: stopped))
    settings = make_settings(
        migrated,
        rate_limit_per_minute=DEFAULTS.rate_limit_per_minute,
        rate_limit_burst=DEFAULTS.rate_limit_burst,
        events_enabled=True,  # every route, as deployed
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_every_operation_documents_each_status_the_stack_can_answer(as_deployed: TestClient) -> None:
    document = await schema(as_deployed)
    handlers: dict[tuple[str, str], HTTPRouteHandler] = {
        (route.path_format, method.lower()): handler
        for route in as_deployed.app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
    }
    lacking = {}
    for path, method, operation in operations(document):
        handler = handlers[path, method]
        # StrictInput on every route; the server's head limits before any route
        can = {400, 414, 431}
        if handler.parsed_data_field is not None:
            assert "requestBody" in operation
            can |= {408, 413, 415}
        if "db" in handler.parsed_fn_signature.parameters:
            can.add(503)
        anonymous = await as_deployed.request(method, path.format_map(path_parameters(path, "alice")))
        assert bool(operation.get("security")) is (anonymous.status_code == 401), (method, path)
        if anonymous.status_code == 401:  # behind the token, so rate limited too
            can |= {401, 429} | ({403} if "{user_id}" in path else set())
            # an Idempotency-Key still in use, or used for another request; the erase takes none
            if method in WRITES and not issubclass(handler.operation_class, KeylessOperation):
                can |= {409, 422}
        if missing := sorted(can - set(map(int, operation["responses"]))):
            lacking[f"{method.upper()} {path}"] = missing
    assert lacking == {}


async def test_schemathesis_takes_each_refusal_as_documented(as_deployed: TestClient) -> None:
    document = await schema(as_deployed)
    api = schemathesis.openapi.from_dict(document)
    for _ in range(DEFAULTS.rate_limit_burst):  # carol spends her whole burst; the clock stands still
        assert (await as_deployed.get("/api/carol/tags", headers=CAROL)).status_code == 200
    limited = []
    for path, method, operation in operations(document):
        for user, headers in (("carol", {}), ("carol", CAROL), ("alice", CAROL)):
            parameters = path_parameters(path, user)
            response = await as_deployed.request(method, path.format_map(parameters), headers=headers)
            case = api[path][method.upper()].Case(path_parameters=parameters, headers=headers)
            case.validate_response(
                response,
                checks=[
                    status_code_conformance,
                    content_type_conformance,
                    response_headers_conformance,
                    response_schema_conformance,
                ],
            )
            if response.status_code == 429:
                limited.append(f"{method.upper()} {path}")
                documented = {name.lower() for name in operation["responses"]["429"]["headers"]}
                sent = {name for name in response.headers if name == "retry-after" or name.startswith("ratelimit-")}
                assert sent == documented
    secured = [f"{method.upper()} {path}" for path, method, op in operations(document) if "security" in op]
    assert limited == secured
    assert limited  # every /api operation, and nothing else


def test_a_resource_using_the_shared_problems_documents_them_with_their_headers() -> None:
    @get("/things", responses=AUTH_PROBLEMS)
    async def list_things() -> list[str]:
        return []

    @post("/things", responses=BODY_PROBLEMS)
    async def create_thing(data: JSONBody[Part]) -> None:
        return None

    app = Litestar([list_things, create_thing])
    say_what_is_enforced(app)
    responses = {
        method: {status: response.headers for status, response in (getattr(item, method).responses or {}).items()}
        for item in (app.openapi_schema.paths or {}).values()
        for method in ("get", "post")
    }
    for method, statuses in (("get", AUTH_PROBLEMS), ("post", BODY_PROBLEMS)):
        assert set(responses[method]) >= {str(status) for status in statuses}, method
        assert "Retry-After" in (responses[method]["429"] or {}), method
        assert "WWW-Authenticate" in (responses[method]["401"] or {}), method
    assert {"408", "413", "415"} <= set(responses["post"]) - set(responses["get"])
