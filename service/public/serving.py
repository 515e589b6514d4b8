"""Answering a public request from the cache, or from the read model once and then cached.

A miss reads through ``Reads``: the standby when one is configured and current, the
primary otherwise (``service.db.replica``).

Public routes take no database session and no actor: on a cache hit they touch
nothing but memory, and the answer goes out as prepared bytes with prepared
headers. Every answer carries an ETag; a matching If-None-Match gets 304.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.response.base import ASGIResponse
from litestar.types.asgi_types import HeaderScope
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.replica import Reads
from service.errors import NotFound
from service.public.cache import Cached, PublicCache, entity_tag

Produce = Callable[[AsyncSession], Awaitable[tuple[bytes, str] | None]]
MAX_AGE = 60  # seconds a browser or proxy may reuse an answer without asking
_IF_NONE_MATCH = b"if-none-match"


def cache_of(request: Request[Any, Any, Any]) -> PublicCache:
    cache: PublicCache = request.app.state.public_cache
    return cache


def request_key(request: Request[Any, Any, Any], prefix: str = "") -> str:
    """The raw path and the raw query string: the same question, the same key.

    Nothing is normalised on the way (a lower-case USCC is its own key): a hit costs a
    dictionary look-up; a miss normalises, reads and stores under the raw key."""
    scope = request.scope
    query = scope.get("query_string", b"")
    if query:
        return f"{prefix}{scope['path']}?{query.decode('latin-1')}"
    return f"{prefix}{scope['path']}"


def _if_none_match(request: Request[Any, Any, Any]) -> bytes:
    for name, value in request.scope["headers"]:
        if name == _IF_NONE_MATCH:
            return bytes(value)
    return b""


def _headers(etag: str, extra: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    fields = {"etag": etag, "cache-control": f"public, max-age={MAX_AGE}", **(extra or {})}
    return tuple((name.lower(), value) for name, value in fields.items())


class _Prepared(ASGIResponse):
    """A cached answer whose header lines were encoded when it was cached."""

    __slots__ = ()

    def __init__(self, body: bytes, status_code: int, raw: tuple[tuple[bytes, bytes], ...]):
        self.headers = MutableScopeHeaders(cast(HeaderScope, {"headers": list(raw)}))
        self.background = None
        self.body = body
        self.content_length = len(body)
        self._encoded_cookies = ()
        self.encoding = "utf-8"
        self.is_head_response = False
        self.status_code = status_code


def _prepared(body: bytes, media_type: str, extra: dict[str, str] | None) -> Cached:
    etag = entity_tag(body)
    headers = _headers(etag, extra)
    hit = (*headers, ("x-cache", "hit"))
    full = ASGIResponse(body=body, media_type=media_type, headers=hit).encode_headers()
    empty = ASGIResponse(body=b"", status_code=304, headers=hit).encode_headers()
    return Cached(body, media_type, etag, headers, tuple(full), tuple(empty))


def _respond(request: Request[Any, Any, Any], entry: Cached, state: str) -> ASGIResponse:
    unchanged = entry.etag.encode() in _if_none_match(request)
    if state == "hit" and entry.hit:
        if unchanged:
            return _Prepared(b"", 304, entry.not_modified)
        return _Prepared(entry.body, 200, entry.hit)
    sent = (*entry.headers, ("x-cache", state))
    if unchanged:
        return ASGIResponse(body=b"", status_code=304, headers=sent)
    return ASGIResponse(body=entry.body, media_type=entry.media_type, headers=sent)


def cached_answer(request: Request[Any, Any, Any], key: str) -> ASGIResponse | None:
    """The answer from memory when ``key`` is cached; None otherwise (nothing checked)."""
    entry = cache_of(request).get(key)
    return None if entry is None else _respond(request, entry, "hit")


async def answer(
    request: Request[Any, Any, Any],
    key: str,
    produce: Produce,
    *,
    missing: str = "not found",
    headers: dict[str, str] | None = None,
) -> ASGIResponse:
    cache = cache_of(request)
    entry = cache.get(key)
    state = "hit"
    if entry is None:
        state = "miss"
        generation = cache.generation
        reads: Reads = request.app.state.reads
        read = await reads.run(produce)
        if read.value is None:
            raise NotFound(missing)
        entry = _prepared(*read.value, headers)
        if reads.still_current(read):
            cache.put(key, entry, generation)
    return _respond(request, entry, state)
