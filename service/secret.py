"""Secrets that never print: a value whose repr and str are ``***``.

Wrapping a key or token in ``Secret`` keeps it out of every repr a log line, a retry
warning, an error or a traceback might show (a settings object, a platform's
configuration, a client holding one). ``reveal()`` is the one way to the value, used
where it is needed: signing, deriving keys, hashing a token.

Configured secrets (``SECRET_KEY``, platform secrets, the database password) are also
registered with ``Secret.configured``: the log processor in ``service.logs`` removes
every registered value from every line, whatever printed it, as the last defence.
"""

from __future__ import annotations

import hmac
import threading
from typing import Any, final

MASK = "***"
# Shorter values are not redacted from logs: "1234" would blank out every number.
MIN_REDACTED_LENGTH = 8

_lock = threading.Lock()
_configured: frozenset[str] = frozenset()


@final
class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    @classmethod
    def configured(cls, value: str) -> Secret:
        """A secret from configuration: also redacted from every log line from now on."""
        register(value)
        return cls(value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Secret cannot be changed")

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    # Immutable, so a copy is the same object; pickling would carry the value out in clear.
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


def register(value: str) -> None:
    """Redact ``value`` from every log line of this process from now on."""
    global _configured
    if len(value) < MIN_REDACTED_LENGTH or value in _configured:
        return
    with _lock:
        _configured = _configured | {value}


def configured_secrets() -> frozenset[str]:
    return _configured
