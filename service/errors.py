"""The few kinds of domain error; the web layer maps each to a problem response once."""

from __future__ import annotations

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
