"""POST routes declared as data: a row per command, one builder for every route.

A row (``Command``) names the path, the service function, the body's type and how to
answer. The route it makes takes the path's id (when the path has one), the body, the
session, the context and an ``Idempotency-Key``, and runs the command idempotently in
the request's transaction. Litestar reads a handler's parameters from its signature
and annotations, so the one handler below is given those of its row; its name is the
service function's, so the OpenAPI summary and operation id follow from the row too.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.params import SECURITY

# (session, ctx, what the command returned, the status code) -> the answer
Answer = Callable[[AsyncSession, CommandContext, Any, int], Awaitable[Response[Any]]]


@dataclass(frozen=True, slots=True)
class Command:
    path: str
    run: Callable[..., Awaitable[Any]]  # (session, ctx, [the path's id,] body)
    body: type[Any]
    answer: Answer
    shape: type[Any]  # what the answer holds, for the OpenAPI document
    status_code: int = 200
    target: str | None = None  # the path's id, passed to ``run`` before the body


def _keyword(name: str, annotation: Any, **default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **default)


def command_route(command: Command, *, tags: list[str]) -> HTTPRouteHandler:
    """The route of a command: its parameters declared from the row, its work idempotent."""
    target = [_keyword(command.target, FromPath[uuid.UUID])] if command.target else []
    parameters = [
        _keyword("request", Request[Any, Any, Any]),
        *target,
        _keyword("data", Annotated[command.body, BodyKwarg(media_type=RequestEncodingType.JSON)]),
        _keyword("db_session", NamedDependency[AsyncSession]),
        _keyword("ctx", NamedDependency[CommandContext]),
        _keyword("idempotency_key", IdempotencyKeyHeader, default=None),
    ]
    returns = Response[command.shape]  # type: ignore[name-defined]

    async def handler(**given: Any) -> Response[Any]:
        session: AsyncSession = given["db_session"]
        ctx: CommandContext = given["ctx"]
        ids = [given[command.target]] if command.target else []

        async def work() -> Response[Any]:
            done = await command.run(session, ctx, *ids, given["data"])
            return await command.answer(session, ctx, done, command.status_code)

        return await idempotent(given["request"], session, ctx, given["idempotency_key"], work)

    handler.__name__ = handler.__qualname__ = command.run.__name__
    handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    route = post(command.path, status_code=command.status_code, tags=tags, security=SECURITY)
    return route(handler)
