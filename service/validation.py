"""Field checks shared by every domain: each failure names the field it found at fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from msgspec import Meta, Struct

from service.errors import Invalid
from service.limits import DATE_RANGE_MESSAGE, dates_out_of_range

# PostgreSQL text cannot hold NUL; refuse it at the edge, naming the field.
NO_NUL = r"^[^\x00]*$"
PersonName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]


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


class DatedBody(Struct):
    """A request body whose dates are held to the one accepted range (service.limits).

    msgspec runs ``__post_init__`` after decoding and reports a ValueError as a
    validation error at the body's path; the message names the field, so the problem
    answer does too.
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if dates_out_of_range(getattr(self, name)):
                raise ValueError(f"date field `{name}` {DATE_RANGE_MESSAGE}")
