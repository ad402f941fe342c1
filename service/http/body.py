"""JSON request bodies: required or optional, JSON only, decoded strictly."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException, HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Operation, RequestBody

from service.http.field_errors import from_msgspec


async def json_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a body must be JSON (415 otherwise); unless ``opt={"body": "optional"}``, one is required.

    It must also be of the handler's type as JSON says it, with no conversion: Litestar decodes
    leniently, which would take ``"due_at": 0`` for 1970 and ``"completed": 1`` for true. A
    body this accepts decodes to the same value either way, so Litestar's decoding then stands.
    """
    headers = connection.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        if handler.opt.get("body") != "optional":
            raise ClientException(detail="a JSON request body is required")
        return
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            status_code=415, detail="the request body must be JSON, sent with Content-Type: application/json"
        )
    body = await cast("Request[Any, Any, Any]", connection).body()
    field = handler.parsed_data_field
    try:
        _strict_decoder(field.annotation if field else Any).decode(body)
    except msgspec.ValidationError as exc:
        raise from_msgspec(exc, "body") from exc
    except msgspec.DecodeError:
        pass  # not JSON at all: Litestar's own decoding says so, as it always has


@functools.cache  # by type, not by handler: a guard is given a copy of the handler on every request
def _strict_decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


@dataclass
class OptionalBodyOperation(Operation):
    """Litestar marks every request body required; the toggle's is not."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False
