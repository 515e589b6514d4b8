"""The Idempotency-Key header on POST routes: a retry replays the first answer.

A route wraps its work in ``idempotent(...)``. Without the header, or for a caller
without a user id, the work simply runs. With it, the key is claimed in the request's
transaction (see service.idempotency.store); the first answer is stored and later
requests with the same key and the same request get it back byte for byte, with
``Idempotent-Replayed: true``. The same key with a different request is a 422.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, Response
from litestar.params import HeaderParameter
from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.idempotency import store

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Headers worth replaying; the rest (request id, dates) belong to each exchange.
_KEPT_HEADERS = ("etag", "location", "content-disposition")

# A key: 1-255 visible ASCII characters (the header's shape, and a page form's key's).
KEY_MAX_LENGTH = 255
KEY_SHAPE = r"^[\x21-\x7e]+$"
_KEY = re.compile(KEY_SHAPE)


def is_idempotency_key(key: str) -> bool:
    return 0 < len(key) <= KEY_MAX_LENGTH and _KEY.match(key) is not None


IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_SHAPE,
        description="a unique key per intended write; a retry with the same key and body "
        "returns the first answer and creates nothing",
    ),
]


async def _fingerprint(request: Request[Any, Any, Any]) -> str:
    body = await request.body()
    try:
        # Key order and whitespace do not make a different request.
        canonical = json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode()):
        digest.update(part + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def _stored(response: Response[Any]) -> store.StoredResponse:
    content = response.content
    body = content if isinstance(content, bytes) else encode_json(content)
    headers = {
        name: str(value)
        for name, value in response.headers.items()
        if name.lower() in _KEPT_HEADERS
    }
    media_type = str(response.media_type or "application/json")
    return store.StoredResponse(response.status_code or 200, media_type, body, headers)


def _replay(answer: store.StoredResponse) -> Response[bytes]:
    return Response(
        answer.body,
        status_code=answer.status_code,
        media_type=answer.media_type,
        headers={**answer.headers, REPLAYED_HEADER: "true"},
    )


async def idempotent(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    key: str | None,
    work: Callable[[], Awaitable[Response[Any]]],
) -> Response[Any]:
    owner = ctx.actor.user_id
    if key is None or owner is None:
        return await work()
    claim = store.KeyRequest(
        owner_id=owner,
        key=key,
        method=request.method,
        path=request.url.path,
        fingerprint=await _fingerprint(request),
    )
    earlier = await store.claim(session, claim, ctx.now())
    if earlier is not None:
        return _replay(earlier)
    response = await work()
    await store.complete(session, claim, _stored(response))
    return response
