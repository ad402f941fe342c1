"""JSON request bodies: JSON only, present unless the handler's type allows none, decoded once, strictly."""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from litestar import Request
from litestar.dto import AbstractDTO
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, HTTPException, ImproperlyConfiguredException
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import BodyKwarg
from litestar.typing import FieldDefinition

from service.http.field_errors import from_msgspec

if TYPE_CHECKING:
    from litestar.dto import DTOFieldDefinition
    from litestar.openapi.spec import Reference, Schema

NOT_JSON = "the request body must be JSON, sent with Content-Type: application/json"
MISSING = "a JSON request body is required"


def check_framing(request: Request[Any, Any, Any], *, optional: bool) -> None:
    """A body must be JSON (415 otherwise); unless the handler's type allows none, one is required.

    Only the headers are read: a body refused here is never read at all.
    """
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        if not optional:
            raise ClientException(detail=MISSING)
        return
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(status_code=415, detail=NOT_JSON)


class StrictJSON(AbstractDTO[Any]):
    """Litestar's one decode of a JSON body, straight into the handler's type, with no conversion.

    Litestar's own decoding is lenient: it would take ``"due_at": 0`` for 1970 and
    ``"completed": 1`` for true. This reads each value as JSON types it, builds the handler's
    Struct in the same pass, and the handler gets that value: nothing decodes the body again.
    A value that does not fit is a FieldError naming it. The OpenAPI document shows the
    handler's type as Litestar describes it without a DTO.

    One subclass per body type (``strict_dto``), holding its decoder.
    """

    __slots__ = ()
    decoder: ClassVar[msgspec.json.Decoder[Any]]

    def decode_bytes(self, value: bytes) -> Any:
        try:
            return self.decoder.decode(value)
        except msgspec.ValidationError as exc:
            raise from_msgspec(exc, "body") from exc
        except msgspec.DecodeError as exc:  # not JSON at all: msgspec says where
            raise ClientException(detail=str(exc)) from exc

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        kwarg = field_definition.kwarg_definition
        media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
        if field_definition.name != "data" or media_type != RequestEncodingType.JSON:
            raise ImproperlyConfiguredException(
                f"{cls.__name__} decodes JSON request bodies only, not {field_definition.name} ({media_type})"
            )

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        # Litestar's own schema for the type (its SchemaCreator is not public, hence Any)
        schema: Reference | Schema = schema_creator.for_field_definition(field_definition)
        return schema

    @classmethod
    def is_supported_model_type_field(cls, field_definition: FieldDefinition) -> bool:
        return False  # it reads requests; Litestar encodes responses itself

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        raise NotImplementedError("StrictJSON builds no transfer model: msgspec decodes into the type itself")

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


@functools.cache  # by type: one DTO class for every handler taking the same body type
def strict_dto(body_type: Any) -> type[StrictJSON]:
    name = f"StrictJSON[{getattr(body_type, '__name__', body_type)}]"
    return type(name, (StrictJSON,), {"__slots__": (), "decoder": _strict_decoder(body_type)})


@functools.cache
def _strict_decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


@dataclass
class OptionalBodyOperation(Operation):
    """Litestar marks every request body required; the toggle's is not."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False
