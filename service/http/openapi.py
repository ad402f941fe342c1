"""Where Litestar's generated OpenAPI document says less than the code enforces, say it.

What holds for every route is amended here:

- A request body Struct with ``forbid_unknown_fields`` answers another field with a 400, so its
  schema must not allow additional properties; Litestar does not say so.
- If-Match and If-None-Match must be ``*`` or a list of entity tags, as ``conditional`` reads them.
- Litestar writes an optional parameter as ``oneOf: [X, null]``, but a URL or a header cannot
  carry a null: an absent parameter is what ``required: false`` already says.
- Litestar's ``ResponseSpec`` has no room for headers; a ``HeadedResponseSpec`` (a 429's
  ``Retry-After``, a 401's challenge) has its headers written into each operation that uses it.

What a resource enforces beyond its types, it states itself: a parameter's rule in its
declaration (``schema_extra``), a body's in an amendment of its own (``service.tasks.openapi``),
given to ``say_what_is_enforced``. A client generated from the document, or a fuzzer reading
it, would otherwise send what the service refuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIHeader, OpenAPIResponse, Operation, Parameter, Schema
from litestar.routes import HTTPRoute

from service.http.conditional import HEADER_PATTERN

# What str.strip() trims, spelled out: ``\s`` means fewer characters to the ECMA and Rust regex
# engines of JSON Schema validators than to Python.
WHITE_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def trimmed(most: int) -> str:
    """No NUL, and 1 to ``most`` characters once the white space around it is trimmed."""
    space, solid = f"[{WHITE_SPACE}]", f"[^{WHITE_SPACE}\\x00]"
    return rf"^{space}*{solid}(?:[^\x00]{{0,{most - 2}}}{solid})?{space}*$"


@dataclasses.dataclass
class HeadedResponseSpec(ResponseSpec):
    """A ``ResponseSpec`` with the headers the response always carries, which ``say_what_is_enforced`` documents."""

    headers: Mapping[str, OpenAPIHeader] = dataclasses.field(default_factory=dict)


def say_what_is_enforced(app: Litestar, *amendments: Callable[[OpenAPI], None]) -> None:
    """Amend the app's document (generated once, then served as amended): the generic rules, then each resource's."""
    document = app.openapi_schema
    for handler, operation in _documented_handlers(app, document):
        _document_headers(handler, operation)
    schemas = document.components.schemas if document.components and document.components.schemas else {}
    for struct in _strict_request_structs(app):
        _component(schemas, struct).additional_properties = False
    for operation in _operations(document):
        for parameter in operation.parameters or []:
            if not isinstance(parameter, Parameter) or not isinstance(parameter.schema, Schema):
                continue
            _drop_null(parameter.schema)
            if parameter.name in {"If-Match", "If-None-Match"}:
                parameter.schema.pattern = HEADER_PATTERN  # anything else is a 400
    for amend in amendments:
        amend(document)


def branches(schema: Schema, name: str) -> list[Schema]:
    """A body property's schema and, where it may also be null, each schema of its ``oneOf``."""
    prop = (schema.properties or {}).get(name)
    if not isinstance(prop, Schema):
        return []
    return [branch for branch in (prop, *(prop.one_of or [])) if isinstance(branch, Schema)]


def _drop_null(schema: Schema) -> None:
    """``oneOf: [X, null]`` becomes X, keeping what was said beside the ``oneOf``."""
    members = list(schema.one_of or [])
    others = [member for member in members if not (isinstance(member, Schema) and member.type == "null")]
    if len(members) != 2 or len(others) != 1 or not isinstance(others[0], Schema):
        return
    schema.one_of = None
    for field in dataclasses.fields(others[0]):
        if getattr(schema, field.name) is None:
            setattr(schema, field.name, getattr(others[0], field.name))


def _document_headers(handler: HTTPRouteHandler, operation: Operation) -> None:
    """Each HeadedResponseSpec's headers, on the response Litestar made from it."""
    responses = operation.responses or {}
    for status, spec in (handler.responses or {}).items():
        response = responses.get(str(status))
        if isinstance(spec, HeadedResponseSpec) and spec.headers and isinstance(response, OpenAPIResponse):
            response.headers = {**(response.headers or {}), **spec.headers}


def _documented_handlers(app: Litestar, document: OpenAPI) -> Iterator[tuple[HTTPRouteHandler, Operation]]:
    """Each handler in the document, with its operation there (Litestar files a route under its ``path_format``)."""
    paths = document.paths or {}
    for route in app.routes:
        item = paths.get(route.path_format or "/")
        if item is None or not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation) and handler.resolve_include_in_schema():
                    yield handler, operation


def _operations(document: OpenAPI) -> list[Operation]:
    methods = ("get", "put", "post", "delete", "patch")
    items = (document.paths or {}).values()
    return [op for item in items for op in (getattr(item, method) for method in methods) if op is not None]


def _strict_request_structs(app: Litestar) -> set[type[msgspec.Struct]]:
    """Every Struct a documented request body holds, at any depth, that refuses unknown fields."""
    bodies = [
        handler.parsed_data_field.annotation
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.parsed_data_field is not None and handler.resolve_include_in_schema()
    ]
    return {
        struct.cls
        for struct in _structs(msgspec.inspect.multi_type_info(bodies), set())
        if struct.forbid_unknown_fields
    }


def _structs(types: Iterable[msgspec.inspect.Type], seen: set[type]) -> Iterator[msgspec.inspect.StructType]:
    for info in types:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                continue
            seen.add(info.cls)
            yield info
        yield from _structs(_inner(info), seen)


def _inner(info: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
    """The types a container, a union, a constrained type or a Struct holds."""
    single = (getattr(info, name, None) for name in ("type", "item_type", "key_type", "value_type"))
    return [
        *(inner for inner in single if isinstance(inner, msgspec.inspect.Type)),
        *getattr(info, "types", ()),
        *getattr(info, "item_types", ()),
        *(field.type for field in getattr(info, "fields", ())),
    ]


def _component(schemas: dict[str, Schema], struct: type) -> Schema:
    """The component Litestar made for ``struct``: named by its class, as no two of ours share a name."""
    schema = schemas.get(struct.__name__)
    if not isinstance(schema, Schema):
        raise LookupError(f"no OpenAPI component named {struct.__name__} for {struct.__module__}.{struct.__qualname__}")
    return schema
