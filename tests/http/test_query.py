"""Which query parameters each route takes, as derived from its signature, and that the query is parsed once."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi.spec import Operation, Parameter
from litestar.params import FromPath, JSONBody
from litestar.routes import HTTPRoute

from service.app import create_app
from service.config import Settings
from service.http import query
from service.http.strict_input import ACCEPTS, Accepts
from tests.conftest import ALICE, TestClient, create


def accepts(app: Litestar, path: str, method: str) -> Accepts:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path:
            handler, _ = route.route_handler_map[method]  # type: ignore[index]
            found: Accepts = handler.opt[ACCEPTS]
            return found
    raise LookupError(path)


def test_the_list_takes_exactly_these_parameters(settings: Settings) -> None:
    # Derived from the handler's signature: when a Litestar upgrade reads signatures differently,
    # this says what changed.
    rules = accepts(create_app(settings), "/api/{user_id}/tasks", "GET").parameters
    described = {name: (rule.repeatable, rule.required, rule.problem.__name__) for name, rule in sorted(rules.items())}
    assert described == {
        "completed": (False, False, "_boolean"),
        "cursor": (False, False, "_anything"),
        "due_after": (False, False, "_date_time"),
        "due_before": (False, False, "_date_time"),
        "limit": (False, False, "_integer"),
        "list_id": (False, False, "_anything"),
        "overdue": (False, False, "_boolean"),
        "parent_id": (False, False, "_anything"),
        "priority": (True, False, "_anything"),
        "q": (False, False, "_anything"),
        "series_id": (False, False, "_uuid"),
        "sort": (False, False, "_anything"),
        "tag": (True, False, "_anything"),
    }


def test_clearing_requires_completed_and_nothing_else(settings: Settings) -> None:
    taken = accepts(create_app(settings), "/api/{user_id}/tasks", "DELETE")
    assert (sorted(taken.parameters), taken.required_parameters) == (["completed"], ("completed",))


def test_every_route_takes_the_query_parameters_litestar_documents(settings: Settings) -> None:
    # The OpenAPI document is Litestar's own account of each handler's parameters: the rules
    # must agree with it, route by route, name by name, required or not.
    app = create_app(settings)
    paths = app.openapi_schema.paths or {}
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in paths:
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = getattr(paths[route.path_format], method.lower(), None)
            if not isinstance(operation, Operation):
                continue
            documented = {
                parameter.name: parameter.required
                for parameter in operation.parameters or []
                if isinstance(parameter, Parameter) and parameter.param_in == "query"
            }
            taken: Accepts = handler.opt[ACCEPTS]
            assert {name: rule.required for name, rule in taken.parameters.items()} == documented, (method, route.path)
            checked += 1
    assert checked >= 10


async def test_the_query_string_is_parsed_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pins what the strict check relies on: Litestar parses request.query_params once per request
    # and reads the handler's arguments from that parse. Both places it can parse are counted.
    from litestar._parsers import parse_query_string

    parsed: list[bytes] = []

    def counting(query_string: bytes) -> tuple[tuple[str, str], ...]:
        parsed.append(query_string)
        return parse_query_string(query_string)

    monkeypatch.setattr("litestar.connection.base.parse_query_string", counting)
    monkeypatch.setattr("litestar._kwargs.extractors.parse_query_string", counting)
    await create(client)
    response = await client.get("/api/alice/tasks", params={"limit": "5", "completed": "false"}, headers=ALICE)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1
    assert parsed == [b"limit=5&completed=false"]


async def test_a_missing_required_parameter_is_named_by_our_check(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "MISSING", "required parameter is missing (ours)")
    response = await client.delete("/api/alice/tasks", headers=ALICE)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"key": "completed", "message": "required parameter is missing (ours)", "source": "query"}
    ]


def test_a_route_that_would_skip_the_checks_is_refused_when_registered(settings: Settings) -> None:
    async def hook(request: Request[Any, Any, Any]) -> None:
        return None

    @get("/api/{user_id:str}/own-hook", before_request=hook)
    async def own_hook(user_id: FromPath[str]) -> None:
        return None

    @post("/api/{user_id:str}/own-dto", dto=None)
    async def own_dto(user_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> None:
        return None

    app = create_app(settings)
    with pytest.raises(ImproperlyConfiguredException, match="before_request"):
        app.register(own_hook)
    with pytest.raises(ImproperlyConfiguredException, match="not strictly"):
        app.register(own_dto)


async def test_litestar_reports_its_own_parameter_errors_as_data(client: TestClient) -> None:
    # A value our check lets through but the handler's type refuses is Litestar's to report; it
    # lists key, message and source, which problems.py takes as they are.
    response = await client.get("/api/alice/tasks", params={"limit": "0", "sort": "nope"}, headers=ALICE)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"key": "sort", "message": "Invalid enum value 'nope'", "source": "query"},
        {"key": "limit", "message": "Expected `int` >= 1", "source": "query"},
    ]
    assert response.json()["detail"] == "sort: Invalid enum value 'nope'; limit: Expected `int` >= 1"


async def test_a_series_id_that_is_not_a_uuid_is_400_naming_it(client: TestClient) -> None:
    for value in ("null", "42", ""):
        response = await client.get("/api/alice/tasks", params={"series_id": value}, headers=ALICE)
        assert response.status_code == 400, (value, response.text)
        assert [error["key"] for error in response.json()["errors"]] == ["series_id"]
