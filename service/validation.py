"""Field checks shared by every domain: each failure names the field it found at fault."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Annotated, get_args

from msgspec import Meta, Struct, structs

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
        for name in _date_fields(type(self)):
            if dates_out_of_range(getattr(self, name)):
                raise ValueError(f"date field `{name}` {DATE_RANGE_MESSAGE}")


@cache
def _date_fields(body: type[Struct]) -> tuple[str, ...]:
    """The fields of a body that can hold a date: only these need the check, which runs on
    every body decoded and every stored record's details read back (thousands a rebuild)."""
    return tuple(field.name for field in structs.fields(body) if _holds_date(field.type))


def _holds_date(annotation: object) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, date):
        return True
    return any(_holds_date(argument) for argument in get_args(annotation))
