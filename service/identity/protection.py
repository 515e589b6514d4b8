"""Protection of personal identifiers at rest (PIPL).

An ID number is stored three ways, none of them the clear number:
- a keyed hash (HMAC-SHA256) for exact lookup and uniqueness;
- a masked form for display (first 6 and last 4 characters);
- a Fernet ciphertext, for the few flows that must send the full number on
  (a person's record to the public-credit platform).
Both keys are derived from the service's secret key with HKDF, one per purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.secret import Secret


def _derive(secret_key: Secret, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.reveal().encode()
    )


def mask_id_number(id_number: str) -> str:
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_name(name: str) -> str:
    """Keep the first and last character: 张*明; a two-character name keeps the first: 张*."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True, slots=True)
class ProtectedIdNumber:
    lookup_hash: str
    masked: str
    ciphertext: str


class IdNumberVault:
    """Holds the derived keys; its repr is the default one, which shows neither."""

    def __init__(self, secret_key: Secret) -> None:
        self._hash_key = _derive(secret_key, b"id-number-lookup")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, b"id-number-encrypt")))

    def lookup_hash(self, id_number: str) -> str:
        return hmac.new(self._hash_key, id_number.encode(), hashlib.sha256).hexdigest()

    def protect(self, id_number: str) -> ProtectedIdNumber:
        return ProtectedIdNumber(
            lookup_hash=self.lookup_hash(id_number),
            masked=mask_id_number(id_number),
            ciphertext=self._fernet.encrypt(id_number.encode()).decode(),
        )

    def reveal(self, ciphertext: str) -> str:
        return self._fernet.decrypt(ciphertext.encode()).decode()
