"""The OpenAPI document names every answer a route can give, its errors included.

Litestar documents each route's success answer from its types, and a 400 in a shape
of its own. This service answers every error as problem details (service.web.problems),
so once the app is built each operation gets the error statuses its shape allows,
each as ``application/problem+json`` with the one ``Problem`` schema. The rules follow
from what the layers below can raise, not from a list kept per route:

- 400: a parameter or body of the wrong shape (any operation with parameters or a body);
- 401, 403: who you are (any operation that takes a bearer token);
- 404: a path that names something missing, or a body that does (a write);
- 409: a write that conflicts with the state or with a concurrent change;
- 412, 428: If-Match missing or stale (operations with an If-Match header);
- 413: a body over the size limit;
- 422: a value that breaks a rule (any operation with parameters or a body);
- 429: the public rate limit (the public routes);
- 503: the database is unreachable (every operation but the process probes).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)

from service.web.problems import PROBLEM_MEDIA_TYPE, Problem

COMPONENTS = "#/components/schemas/{name}"
RAW_BODY = "raw_body"  # a handler's opt key: the RequestBody it reads itself
WRITES = frozenset({"post", "put", "patch", "delete"})
WITHOUT_DATABASE = frozenset({"/health", "/hello", "/.well-known/jwks.json"})
PUBLIC_PREFIX = "/api/v1/public/"

DESCRIPTIONS = {
    400: "A parameter or the body has the wrong shape; `errors` names each field",
    401: "No valid bearer token",
    403: "The caller's role or region does not allow this",
    404: "Something the request names does not exist",
    409: "The request conflicts with the current state, or with a concurrent change (retry)",
    412: "If-Match names a version that is no longer current",
    413: "The body is larger than the service accepts",
    422: "A value breaks a rule (a wrong check character, a date out of range); `errors` names it",
    428: "If-Match is required",
    429: "Too many requests from this client; wait as Retry-After says",
    503: "The database is unreachable; retry after Retry-After seconds",
}
RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER),
    description="seconds to wait before retrying",
)


def _parameters(operation: Operation) -> list[Parameter]:
    return [p for p in operation.parameters or [] if isinstance(p, Parameter)]


def raw_body(description: str, *media_types: str, binary: bool = False) -> dict[str, Any]:
    """A handler's ``opt`` declaring the body it reads itself, so the document shows it."""
    schema = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY if binary else None)
    content = {media_type: OpenAPIMediaType(schema=schema) for media_type in media_types}
    return {RAW_BODY: RequestBody(content=content, description=description, required=True)}


def error_statuses(path: str, method: str, operation: Operation) -> list[int]:
    """The error statuses an operation can answer, by the rules in this module's doc."""
    parameters = _parameters(operation)
    has_body = operation.request_body is not None
    statuses: set[int] = set()
    if parameters or has_body:
        statuses |= {400, 422}
    if operation.security:
        statuses |= {401, 403}
    if any(p.param_in == "path" for p in parameters) or method in WRITES:
        statuses.add(404)
    if method in WRITES:
        statuses.add(409)
    if any(p.param_in == "header" and p.name.lower() == "if-match" for p in parameters):
        statuses |= {412, 428}
    if has_body:
        statuses.add(413)
    if path.startswith(PUBLIC_PREFIX):
        statuses.add(429)
    if path not in WITHOUT_DATABASE:
        statuses.add(503)
    return sorted(statuses)


def _problem_response(status: int) -> OpenAPIResponse:
    schema = Reference(ref=COMPONENTS.format(name=Problem.__name__))
    return OpenAPIResponse(
        description=DESCRIPTIONS[status],
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=schema)},
        headers={"Retry-After": RETRY_AFTER} if status in (409, 429, 503) else None,
    )


def _operations(openapi: OpenAPI) -> list[tuple[str, str, Operation]]:
    found = []
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                found.append((path, method, operation))
    return found


def _raw_bodies(app: Litestar) -> dict[tuple[str, str], RequestBody]:
    """Bodies a handler reads itself (a spreadsheet, a TOML file), declared in its ``opt``."""
    bodies = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            body = handler.opt.get(RAW_BODY)
            if isinstance(body, RequestBody):
                for method in handler.http_methods:
                    bodies[(route.path_format, method.lower())] = body
    return bodies


def document_problems(app: Litestar) -> None:
    """Give every operation its problem answers, and the document the Problem schema."""
    openapi = app.openapi_schema
    _, schemas = msgspec.json.schema_components([Problem], ref_template=COMPONENTS)
    components: dict[str, Any] = openapi.components.schemas
    components.update(schemas)
    raw_bodies = _raw_bodies(app)
    for path, method, operation in _operations(openapi):
        if operation.request_body is None and (path, method) in raw_bodies:
            operation.request_body = raw_bodies[(path, method)]
        responses = dict(operation.responses or {})
        for code in [key for key in responses if key.startswith(("4", "5"))]:
            del responses[code]  # Litestar's own 400 shape is not what this service sends
        for status in error_statuses(path, method, operation):
            responses[str(status)] = _problem_response(status)
        operation.responses = responses
