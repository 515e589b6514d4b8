"""Time-based one-time passwords (RFC 6238) as any authenticator app makes them.

Codes are 6 digits over 30-second steps (the apps' default). A code of the step before
or after the current one is accepted, for clocks a little apart; a step once accepted
is never accepted again, nor any before it, so a code seen over a shoulder is useless.
The shared secret is stored encrypted with a key derived from the service secret, like
an ID number (service.identity.protection).
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.secret import Secret

ISSUER = "养老服务信用监管"
DIGITS = 6
STEP_SECONDS = 30
ACCEPTED_STEPS_APART = 1


class TotpVault:
    """Encrypts and decrypts TOTP secrets; its repr is the default one, which shows no key."""

    def __init__(self, secret_key: Secret) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"totp-secret-encrypt")
        self._fernet = Fernet(base64.urlsafe_b64encode(key.derive(secret_key.reveal().encode())))

    def encrypt(self, totp_secret: str) -> str:
        return self._fernet.encrypt(totp_secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str | None:
        """The secret, or None when the ciphertext was made with another service secret."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            return None


def new_totp_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends."""
    return pyotp.random_base32(length=32)


def provisioning_uri(totp_secret: str, login: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code, or typed)."""
    return pyotp.TOTP(totp_secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=login, issuer_name=ISSUER
    )


def grouped(totp_secret: str) -> str:
    """The secret in groups of four, as a person types it into an app."""
    return " ".join(totp_secret[i : i + 4] for i in range(0, len(totp_secret), 4))


def normalized_code(code: str) -> str | None:
    """The code without the spaces people type; None unless it is 6 digits."""
    digits = "".join(code.split())
    return digits if len(digits) == DIGITS and digits.isascii() and digits.isdigit() else None


def accepted_step(totp_secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to, if it is valid now and newer than the last one
    accepted; None otherwise. Every candidate is compared, in constant time."""
    totp = pyotp.TOTP(totp_secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - ACCEPTED_STEPS_APART, current + ACCEPTED_STEPS_APART + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (
            last_step is None or step > last_step
        ):
            found = step
    return found


def code_was_used(totp_secret: str, code: str, now: datetime, last_step: int | None) -> bool:
    """Whether a refused code is a valid one already used (to say so, not just "wrong")."""
    if last_step is None:
        return False
    totp = pyotp.TOTP(totp_secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    return any(
        hmac.compare_digest(totp.generate_otp(step), code)
        for step in range(current - ACCEPTED_STEPS_APART, current + ACCEPTED_STEPS_APART + 1)
        if step <= last_step
    )
