"""How routes answer with stored rows: in the answer's shape, and a versioned row with
its ETag (and, when just created, its Location)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import msgspec
from litestar import Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from service.context import CommandContext
from service.web.etags import etag

T = TypeVar("T")

# (session, ctx, what the service returned, the status code) -> the answer
Answer = Callable[[AsyncSession, CommandContext, Any, int], Awaitable[Response[Any]]]


class Versioned(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


def shaped(row: SQLModel, shape: type[T]) -> T:
    return msgspec.convert(row.model_dump(), shape)


def tagged(
    content: Any, row: Versioned, status_code: int = 200, *, collection: str | None = None
) -> Response[Any]:
    """``content`` about ``row`` with its ETag; a 201 names the new row's URL in Location
    when the row lives under a ``collection``."""
    headers = {"ETag": etag(row.version)}
    if status_code == 201 and collection is not None:
        headers["Location"] = f"{collection}/{row.id}"
    return Response(content, status_code=status_code, headers=headers)


def tagged_answer(shape: type[Any], *, collection: str | None = None) -> Answer:
    """The answer of a route whose service returns one versioned row."""

    async def answer(
        _session: AsyncSession, _ctx: CommandContext, row: Any, status_code: int
    ) -> Response[Any]:
        return tagged(shaped(row, shape), row, status_code, collection=collection)

    return answer


async def as_is(
    _session: AsyncSession, _ctx: CommandContext, done: Any, status_code: int
) -> Response[Any]:
    """The answer of a route whose service already returns the answer's shape."""
    return Response(done, status_code=status_code)
