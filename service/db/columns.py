"""Column helpers shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def utc_now() -> datetime:
    return datetime.now(UTC)


def id_field() -> uuid.UUID:
    return Field(default_factory=new_id, primary_key=True)  # type: ignore[no-any-return]


def timestamp_field() -> datetime:
    return Field(  # type: ignore[no-any-return]
        default_factory=utc_now, sa_type=sa.DateTime(timezone=True), nullable=False
    )
