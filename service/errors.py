"""The few kinds of domain error; the web layer maps each to a problem response once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    line: int | None = None  # the line of an uploaded file, when the field is a column


class DomainError(Exception):
    """Base of the errors that domain code raises on purpose."""

    title = "Error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class Forbidden(DomainError):
    title = "Forbidden"


class Unauthorized(DomainError):
    title = "Unauthorized"


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule; names the fields at fault."""

    title = "Invalid input"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class PreconditionFailed(DomainError):
    """An optimistic-locking check failed: the caller's copy is out of date."""

    title = "Precondition failed"


class PreconditionRequired(DomainError):
    title = "Precondition required"


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what lies under it, each once: what SQLAlchemy wrapped (``orig``),
    the explicit and implicit causes, and the one error of a single-error group."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup) and len(current.exceptions) == 1:
            pending.append(current.exceptions[0])
            continue
        yield current
        pending.extend([current.__context__, current.__cause__, getattr(current, "orig", None)])
