"""Column helpers shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

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


def optional_timestamp_field() -> datetime | None:
    return Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[no-any-return]


def one_of(
    column: str, values: type[StrEnum], name: str, *, nullable: bool = False
) -> sa.CheckConstraint:
    """A CHECK that a text column holds one of an enum's values (the enum stays the one list)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return sa.CheckConstraint(condition, name=name)
