"""HTTP routes of transparency: the public keys that verify what this service signs."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.types import ControllerRouterHandler
from msgspec import Struct

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


JWKS_ROUTES: list[ControllerRouterHandler] = [jwks]
