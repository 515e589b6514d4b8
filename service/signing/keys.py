"""The Ed25519 signing key and the public keys that verify what it (or a retired key) signed.

The private key never lives in the database: it is a PKCS#8 PEM file, by default
``DATA_DIR/signing/ed25519.pem``, created on first use readable by its owner only
(mode 600), or the file ``SIGNING_KEY_FILE`` names (production). Each key is known by
its RFC 7638 thumbprint (the ``kid``), so anyone can recompute the id from the key.
Rotation (``credit-service keys rotate``) keeps the old public key beside the new private
key, in ``retired/<kid>.pub.pem``, so what it signed still verifies; the key set
published at ``/.well-known/jwks.json`` lists the current key first, then the retired.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

RETIRED = "retired"  # beside the key file: the public keys of rotated-out keys


class SigningKeyError(RuntimeError):
    """A key file that cannot be used (unreadable, not Ed25519, open to others)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The key as an OKP JWK (RFC 8037) with its thumbprint as kid."""
    x = b64url(_raw(public))
    # RFC 7638: the required members only, sorted, no whitespace.
    thumbprint = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = b64url(hashlib.sha256(thumbprint.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def public_key_from_jwk(jwk: Any) -> Ed25519PublicKey:
    if not isinstance(jwk, dict):
        raise SigningKeyError("each key of a JWKS is a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise SigningKeyError("not an Ed25519 public key (kty OKP, crv Ed25519, x)")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


@dataclass(frozen=True, slots=True)
class VerifyingKeys:
    """Public keys by kid: what a verifier needs, from a key ring or a published JWKS."""

    by_kid: dict[str, Ed25519PublicKey]

    @classmethod
    def from_jwks(cls, jwks: Any) -> VerifyingKeys:
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise SigningKeyError("a JWKS is an object with a list of keys")
        by_kid = {}
        for jwk in keys:
            public = public_key_from_jwk(jwk)
            by_kid[public_jwk(public)["kid"]] = public  # the thumbprint, not a claimed kid
        return cls(by_kid)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The current signing key and every public key that still verifies."""

    private: Ed25519PrivateKey
    kid: str
    retired: tuple[Ed25519PublicKey, ...] = ()

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        current = public_jwk(self.private.public_key())
        return {"keys": [current, *(public_jwk(key) for key in self.retired)]}

    def verifying(self) -> VerifyingKeys:
        return VerifyingKeys.from_jwks(self.jwks())


def _pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, private: Ed25519PrivateKey, *, replace: bool) -> None:
    """Write mode 600 from the first byte; a replacement goes through a renamed temporary,
    so a reader never sees half a key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = path.with_name(path.name + ".new") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_pem(private))
        handle.flush()
        os.fsync(handle.fileno())
    if replace:
        os.replace(target, path)


def _read_private(path: Path) -> Ed25519PrivateKey:
    if path.stat().st_mode & 0o077:
        raise SigningKeyError(f"{path} is readable by others: chmod 600 it")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as error:
        raise SigningKeyError(f"{path} is not a PEM private key: {error}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return private


def _retired(path: Path) -> tuple[Ed25519PublicKey, ...]:
    folder = path.parent / RETIRED
    keys = []
    for file in sorted(folder.glob("*.pub.pem")) if folder.is_dir() else []:
        public = serialization.load_pem_public_key(file.read_bytes())
        if isinstance(public, Ed25519PublicKey):
            keys.append(public)
    return tuple(keys)


def load_or_create(path: Path) -> KeyRing:
    """The key ring at ``path``: the key is generated there on first use (two processes
    starting at once both end up with the one that won the exclusive create)."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write_private(path, Ed25519PrivateKey.generate(), replace=False)
    private = _read_private(path)
    return KeyRing(private, public_jwk(private.public_key())["kid"], _retired(path))


def load_verifying(path: Path) -> VerifyingKeys:
    """The public keys of the key ring at ``path`` (current and retired), for verifying
    offline; unlike ``load_or_create`` it never makes a key."""
    if not path.exists():
        raise SigningKeyError(
            f"no signing key at {path}: the service makes it when it first starts "
            "(SIGNING_KEY_FILE or DATA_DIR/signing/); or verify against a published JWKS"
        )
    try:
        private = _read_private(path)
    except PermissionError as error:
        raise SigningKeyError(f"{path} cannot be read ({error.strerror})") from None
    return KeyRing(private, public_jwk(private.public_key())["kid"], _retired(path)).verifying()


def rotate(path: Path) -> tuple[str, str]:
    """Retire the current key (its public half kept for verification) and make a new one;
    return (old kid, new kid). Running processes sign with the old key until restarted."""
    ring = load_or_create(path)
    folder = path.parent / RETIRED
    folder.mkdir(mode=0o700, exist_ok=True)
    public = ring.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (folder / f"{ring.kid}.pub.pem").write_bytes(public)
    fresh = Ed25519PrivateKey.generate()
    _write_private(path, fresh, replace=True)
    return ring.kid, public_jwk(fresh.public_key())["kid"]
