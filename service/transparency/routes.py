"""HTTP routes of transparency: what anyone can fetch to check this service without
trusting its database: the public keys (JWKS), the signed checkpoints of the audit chain,
and the page that explains them (decision 0036).

The checkpoints are read from the standby when there is one, never from the public
cache: a new checkpoint sends no change notice, so a cached list would go stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.response.base import ASGIResponse
from litestar.types import ControllerRouterHandler
from msgspec import Struct
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit import checkpoints
from service.audit.models import AuditCheckpoint
from service.db.replica import Reads
from service.public.i18n import choose_language
from service.public.pages import HTML, render
from service.signing.keys import KeyRing

# Keys change only at a rotation, after which a verifier that meets an unknown kid
# fetches the set again; an hour's caching bounds how long it might wait for that.
JWKS_CACHE = "public, max-age=3600"


class JwkOut(Struct):
    kty: str  # OKP
    crv: str  # Ed25519
    x: str  # the public key, base64url
    kid: str  # its RFC 7638 thumbprint
    alg: str  # EdDSA
    use: str  # sig


class JwksOut(Struct):
    keys: list[JwkOut]  # the current key first, then the retired ones


@get(
    "/.well-known/jwks.json",
    tags=["transparency"],
    summary="The public keys that verify signed decisions and checkpoints (JWKS)",
)
async def jwks(state: State) -> Response[JwksOut]:
    """The JSON Web Key Set (RFC 7517) of this service's Ed25519 keys: the current one,
    then every retired one, so that anything signed before a rotation still verifies.
    No login; each key's kid is its RFC 7638 thumbprint."""
    ring: KeyRing = state.signing
    keys = [JwkOut(**jwk) for jwk in ring.jwks()["keys"]]
    return Response(JwksOut(keys), headers={"Cache-Control": JWKS_CACHE})


JSON = "application/json"
SHOWN_ON_PAGE = 10


class CheckpointOut(msgspec.Struct):
    sequence: int
    row_hash: str
    signed_at: datetime
    key_id: str
    jws: str  # the checkpoint itself: keep a copy, verify it later against the chain


class CheckpointList(msgspec.Struct):
    checkpoints: list[CheckpointOut]  # newest first
    jwks_url: str


def _out(checkpoint: AuditCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        checkpoint.sequence,
        checkpoint.row_hash,
        checkpoint.signed_at.astimezone(UTC),
        checkpoint.key_id,
        checkpoint.jws,
    )


async def _latest(request: Request[Any, Any, Any], limit: int) -> list[CheckpointOut]:
    reads: Reads = request.app.state.reads

    async def produce(session: AsyncSession) -> list[CheckpointOut]:
        return [_out(checkpoint) for checkpoint in await checkpoints.latest(session, limit)]

    return (await reads.run(produce)).value


def _fresh(body: bytes, media_type: str, max_age: int = 60) -> ASGIResponse:
    return ASGIResponse(
        body=body,
        media_type=media_type,
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )


@get(
    "/api/v1/public/transparency/checkpoints",
    tags=["public"],
    responses={200: ResponseSpec(CheckpointList, description="the answer", media_type=JSON)},
)
async def published_checkpoints(request: Request[Any, Any, Any]) -> ASGIResponse:
    """The latest signed checkpoints of the audit chain (newest first, up to 100): each a
    compact JWS (EdDSA) over the head's sequence number, row hash, time and key id.
    Save them: `credit-service audit verify --checkpoints FILE` checks a chain against
    them, so a chain truncated or rewritten since cannot pass."""
    found = await _latest(request, checkpoints.PUBLISHED)
    return _fresh(msgspec.json.encode(CheckpointList(found, "/.well-known/jwks.json")), JSON)


@get("/transparency", include_in_schema=False)
async def transparency_page(request: Request[Any, Any, Any]) -> ASGIResponse:
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    ring: KeyRing = request.app.state.signing
    keys = ring.jwks()["keys"]
    body = render(
        request,
        "transparency.html",
        lang,
        keys=keys,
        current_kid=ring.kid,
        checkpoints=await _latest(request, SHOWN_ON_PAGE),
        base_url=str(request.base_url).rstrip("/"),
    )
    response = _fresh(body, HTML)
    response.headers["Vary"] = "Accept-Language"
    return response


JWKS_ROUTES: list[ControllerRouterHandler] = [jwks]
# Public: under the public router's rate limit.
PUBLISHED_ROUTES: list[ControllerRouterHandler] = [published_checkpoints, transparency_page]
