"""Request and response shapes of the credit API: assessed star ratings; how points show."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from msgspec import Meta, Struct

from service.validation import NO_NUL, DatedBody

CENT = Decimal("0.01")


def points(value: Decimal) -> Decimal:
    """Scores and points as answers show them: always two decimals (85.00, 17.50)."""
    return value.quantize(CENT)


class StarRatingIn(DatedBody, forbid_unknown_fields=True, kw_only=True):
    level: Annotated[int, Meta(ge=1, le=5)]
    assessor: Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
    assessed_on: date
    valid_from: date
    valid_to: date
    document_no: Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)] | None = None


class StarRatingOut(Struct):
    id: uuid.UUID
    institution_id: uuid.UUID
    level: int
    assessor: str
    assessed_on: date
    valid_from: date
    valid_to: date
    document_no: str | None
    recorded_at: datetime
