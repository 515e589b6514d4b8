"""Staff passwords: the rules a new one must meet, and argon2id hashing.

Hashing runs in a worker thread, at most two at a time per process: each hash holds
64 MiB for tens of milliseconds, and the event loop must keep answering meanwhile.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from service.errors import FieldError, Invalid
from service.limits import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

# RFC 9106's second recommended option (for memory-constrained hosts): argon2id,
# 3 passes over 64 MiB, 4 lanes, 16-byte salt, 32-byte tag.
HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)
_HASHING = anyio.CapacityLimiter(2)
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
# Stripped from both ends before the list is consulted: "Password2024!" is "password".
_DECORATION = string.digits + string.punctuation + " "
MIN_DISTINCT_CHARACTERS = 4


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problems(password: str, login: str | None) -> list[str]:
    """What is wrong with a new password, in words a person can act on (empty: none)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return [f"must be at least {PASSWORD_MIN_LENGTH} characters long"]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [f"must be at most {PASSWORD_MAX_LENGTH} characters long"]
    problems = []
    lowered = password.lower()
    if login and login.lower() in lowered:
        problems.append("must not contain the login name")
    candidates = {lowered, lowered.strip(_DECORATION), lowered.strip(string.punctuation + " ")}
    if candidates & common_passwords():
        problems.append("is too common: it is on a list of passwords attackers try first")
    if len(set(lowered)) < MIN_DISTINCT_CHARACTERS:
        problems.append(f"must use at least {MIN_DISTINCT_CHARACTERS} different characters")
    return problems


def check_new_password(password: str, repeated: str, login: str | None) -> None:
    """Refuse a new password that breaks a rule, naming the field (``password``)."""
    errors = [FieldError("password", problem) for problem in password_problems(password, login)]
    if not errors and repeated != password:
        errors.append(FieldError("password_again", "does not match the password"))
    if errors:
        detail = "; ".join(f"{error.field}: {error.message}" for error in errors)
        raise Invalid(detail, errors=errors)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, password, limiter=_HASHING)


@cache
def _stand_in_hash() -> str:
    return HASHER.hash("a password no login has")


async def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether the password matches; with no stored hash (no such login) the same work is
    done against a stand-in, so the answer's timing does not tell whether a login exists."""

    def verify() -> bool:
        try:
            return HASHER.verify(stored_hash or _stand_in_hash(), password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify, limiter=_HASHING)


def needs_rehash(stored_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's (upgrade it at sign-in)."""
    return HASHER.check_needs_rehash(stored_hash)
