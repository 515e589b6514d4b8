"""Compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037): sign and verify.

Written out here rather than through a JOSE library because it is a few lines over
``cryptography`` and signing ten thousand eligibility decisions in one request must not
pay a library's per-call overhead; the tests verify what this signs with a third-party
JOSE library (joserfc), so the format is the standard one, checkable without our code.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature

from service.signing.keys import KeyRing, VerifyingKeys, b64url, b64url_decode


class InvalidJWS(ValueError):
    """Not a compact JWS we can verify: malformed, unknown key, or a bad signature."""


class Signer:
    """Signs payloads with a key ring's current key; the header is encoded once."""

    def __init__(self, ring: KeyRing, typ: str) -> None:
        self._private = ring.private
        self.kid = ring.kid
        header = {"alg": "EdDSA", "kid": ring.kid, "typ": typ}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode())

    def sign(self, payload: Any) -> str:
        return self.sign_encoded(msgspec.json.encode(payload))

    def sign_encoded(self, payload: bytes) -> str:
        """The JWS of a payload already encoded as JSON (its bytes are what is signed, so
        a caller can keep their digest without encoding the payload twice)."""
        signing_input = f"{self._header}.{b64url(payload)}"
        signature = self._private.sign(signing_input.encode())
        return f"{signing_input}.{b64url(signature)}"


def verify(compact: str, keys: VerifyingKeys) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (header, payload) of a compact JWS whose EdDSA signature one of ``keys`` made."""
    parts = compact.strip().split(".")
    if len(parts) != 3:
        raise InvalidJWS("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError as error:
        raise InvalidJWS(f"not base64url JSON: {error}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InvalidJWS("the header and the payload must be JSON objects")
    if header.get("alg") != "EdDSA":
        raise InvalidJWS(f"alg must be EdDSA, not {header.get('alg')!r}")
    public = keys.by_kid.get(str(header.get("kid")))
    if public is None:
        raise InvalidJWS(f"no public key with kid {header.get('kid')!r}")
    try:
        public.verify(signature, f"{parts[0]}.{parts[1]}".encode())
    except InvalidSignature:
        raise InvalidJWS("the signature does not match") from None
    return header, payload
