"""A JSON body is decoded once, strictly, into the handler's type, and documented as Litestar documents it."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Request, patch, post
from litestar.params import JSONBody

from service.http import body
from service.http.strict_input import StrictInput
from service.tasks.schemas import TaskCreate
from tests.conftest import ALICE, TestClient


async def test_a_body_is_decoded_once_by_its_strict_dto(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    dto = body.strict_dto(TaskCreate)

    def counting(self: body.StrictJSON, value: bytes) -> Any:
        decoded.append(value)
        return original(self, value)

    def never(self: Request[Any, Any, Any]) -> Any:
        raise AssertionError("Litestar decoded the body itself")

    original = dto.decode_bytes
    monkeypatch.setattr(dto, "decode_bytes", counting)
    monkeypatch.setattr(Request, "json", never)
    response = await client.post(
        "/api/alice/tasks", content=b'{"title": "once"}', headers={**ALICE, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert decoded == [b'{"title": "once"}']


class Shape(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    size: int = 0


@pytest.fixture
def own_decoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Body types made up here stay out of the service's decoders (test_validation counts those)."""
    monkeypatch.setattr(body, "_strict_decoder", functools.cache(body._strict_decoder.__wrapped__))
    monkeypatch.setattr(body, "strict_dto", functools.cache(body.strict_dto.__wrapped__))


@pytest.mark.usefixtures("own_decoders")
def test_a_strict_body_is_documented_as_litestar_documents_the_type() -> None:
    @post("/shapes")
    async def create_shape(data: JSONBody[Shape]) -> None:
        return None

    @patch("/shapes")
    async def maybe_shape(data: JSONBody[Shape | None] = None) -> None:
        return None

    def document(app: Litestar) -> dict[str, Any]:
        schema: dict[str, Any] = app.openapi_schema.to_schema()
        return {"paths": schema["paths"], "components": schema["components"]}

    strict = Litestar([create_shape, maybe_shape], plugins=[StrictInput()])
    plain = Litestar([create_shape, maybe_shape])
    assert document(strict) == document(plain)
    assert body.strict_dto(Shape | None).decoder.decode(b"null") is None
