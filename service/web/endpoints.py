"""Routes declared as data: a row per endpoint, one builder for every route.

A row (``Endpoint``) names the method, the path, the service function, the body's type
and how to answer. The route it makes calls the function with what the request brings,
always in this order::

    run(session, ctx, *needs, *the path's ids, [body], [the If-Match version], **options)

A POST runs idempotently in the request's transaction (a retried ``Idempotency-Key``
replays the first answer); a PUT, PATCH or DELETE takes ``If-Match`` and passes the
version it names, so no update is lost. Litestar reads a handler's parameters from its
signature and annotations, so the one handler below is given those of its row; its name
is the row's ``name`` (the service function's by default), so the OpenAPI summary and
operation id follow from the row too.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, FromPath
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.web.answers import Answer, as_is
from service.web.etags import expected_version
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.params import SECURITY, IfMatch

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
VERSIONED = frozenset({"PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Option:
    """A query parameter, passed to ``run`` by keyword."""

    name: str
    annotation: Any
    default: Any = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    run: Callable[..., Awaitable[Any]]  # called as the module's doc says
    body: Any  # the JSON body's type (a class or a union of them); None for no body
    answer: Answer
    shape: Any  # what the answer holds, for the OpenAPI document; None for no content
    status_code: int = 200
    targets: tuple[str, ...] = ()  # the path's ids, in the order ``run`` takes them
    method: Method = "POST"
    needs: tuple[str, ...] = ()  # named dependencies besides the session and context
    options: tuple[Option, ...] = ()
    name: str | None = None  # the handler's name; the service function's by default


def _keyword(name: str, annotation: Any, **default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **default)


def _parameters(endpoint: Endpoint) -> list[inspect.Parameter]:
    idempotent_write = endpoint.method == "POST"
    body = endpoint.body
    return [
        *([_keyword("request", Request[Any, Any, Any])] if idempotent_write else []),
        *(_keyword(target, FromPath[uuid.UUID]) for target in endpoint.targets),
        *([_keyword("data", Annotated[body, BodyKwarg(media_type=RequestEncodingType.JSON)])]
          if body is not None else []),
        _keyword("db_session", NamedDependency[AsyncSession]),
        _keyword("ctx", NamedDependency[CommandContext]),
        *(_keyword(need, NamedDependency[object]) for need in endpoint.needs),
        *(_keyword(o.name, o.annotation, default=o.default) for o in endpoint.options),
        *([_keyword("if_match", IfMatch, default=None)] if endpoint.method in VERSIONED else []),
        *([_keyword("idempotency_key", IdempotencyKeyHeader, default=None)]
          if idempotent_write else []),
    ]  # fmt: skip


def endpoint_route(endpoint: Endpoint, *, tags: list[str]) -> HTTPRouteHandler:
    """The route of a row: its parameters declared from the row, a POST's work idempotent."""
    parameters = _parameters(endpoint)
    # An answer without content (a 204) is declared as None, so the document shows none.
    returns = None if endpoint.shape is None else Response[endpoint.shape]  # type: ignore[name-defined]

    async def handler(**given: Any) -> Response[Any]:
        session: AsyncSession = given["db_session"]
        ctx: CommandContext = given["ctx"]
        arguments = [given[name] for name in (*endpoint.needs, *endpoint.targets)]
        if endpoint.body is not None:
            arguments.append(given["data"])
        if endpoint.method in VERSIONED:
            arguments.append(expected_version(given["if_match"]))
        options = {option.name: given[option.name] for option in endpoint.options}

        async def work() -> Response[Any]:
            done = await endpoint.run(session, ctx, *arguments, **options)
            return await endpoint.answer(session, ctx, done, endpoint.status_code)

        if endpoint.method != "POST":
            return await work()
        return await idempotent(given["request"], session, ctx, given["idempotency_key"], work)

    handler.__name__ = handler.__qualname__ = endpoint.name or endpoint.run.__name__
    handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    declared = route(
        endpoint.path,
        http_method=endpoint.method,
        status_code=endpoint.status_code,
        tags=tags,
        security=SECURITY,
    )
    return declared(handler)


def endpoint_routes(
    endpoints: tuple[Endpoint, ...], *, tags: list[str]
) -> list[ControllerRouterHandler]:
    return [endpoint_route(endpoint, tags=tags) for endpoint in endpoints]


SUBJECTS = ("institution", "practitioner")  # /api/v1/institutions/{institution_id}/...


def subject_reads(
    suffix: str,
    read_of: Callable[[str], Callable[..., Awaitable[Any]]],
    shape: Any,
    *,
    name: str,
    options: tuple[Option, ...] = (),
) -> tuple[Endpoint, ...]:
    """The same read under an institution's and a practitioner's path, each route named
    ``<subject>_<name>``; ``read_of(subject)`` reads one subject, returning the answer."""
    return tuple(
        Endpoint(
            f"/api/v1/{subject}s/{{{subject}_id:uuid}}/{suffix}",
            read_of(subject),
            None,
            as_is,
            shape,
            targets=(f"{subject}_id",),
            method="GET",
            options=options,
            name=f"{subject}_{name}",
        )
        for subject in SUBJECTS
    )
