"""Many values as one array parameter: ``col == ANY(:array)`` instead of ten thousand binds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY


def uuid_array(values: Sequence[uuid.UUID]) -> sa.Cast[Any]:
    return sa.cast(sa.literal(list(values), ARRAY(sa.Uuid)), ARRAY(sa.Uuid))


def text_array(values: Sequence[str]) -> sa.Cast[Any]:
    return sa.cast(sa.literal(list(values), ARRAY(sa.Text)), ARRAY(sa.Text))
