"""Field checks shared by every domain: each failure names the field it found at fault."""

from __future__ import annotations

from collections.abc import Callable

from service.errors import Invalid


def checked(field: str, normalize: Callable[[str], str], value: str) -> str:
    """The normalized value (a code, a region), or Invalid naming the field that holds it."""
    try:
        return normalize(value)
    except ValueError as error:
        raise Invalid.field(field, str(error)) from error


def not_blank(field: str, value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise Invalid.field(field, "must not be blank")
    return stripped
