"""Answering a public request from the cache, or from the read model once and then cached.

Public routes take no database session and no actor: on a cache hit they touch
nothing but memory. Every answer carries an ETag; a matching If-None-Match gets 304.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.public.cache import Cached, PublicCache, entity_tag

Produce = Callable[[AsyncSession], Awaitable[tuple[bytes, str] | None]]
MAX_AGE = 60  # seconds a browser or proxy may reuse an answer without asking


def cache_of(request: Request[Any, Any, Any]) -> PublicCache:
    cache: PublicCache = request.app.state.public_cache
    return cache


async def answer(
    request: Request[Any, Any, Any],
    key: str,
    produce: Produce,
    *,
    missing: str = "not found",
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    cache = cache_of(request)
    entry = cache.get(key)
    if entry is None:
        generation = cache.generation
        async with request.app.state.session_factory() as session:
            produced = await produce(session)
        if produced is None:
            raise NotFound(missing)
        body, media_type = produced
        entry = Cached(body, media_type, entity_tag(body))
        cache.put(key, entry, generation)
    sent = {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={MAX_AGE}",
        **(headers or {}),
    }
    if entry.etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=sent)
    return Response(entry.body, media_type=entry.media_type, headers=sent)
