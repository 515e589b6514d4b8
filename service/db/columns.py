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


def region_prefix_index(name: str) -> sa.Index:
    """For ``region_code LIKE '3301%'``: the jurisdiction filter of every listing."""
    return sa.Index(name, "region_code", postgresql_ops={"region_code": "text_pattern_ops"})


def name_search_index(name: str) -> sa.Index:
    """A trigram index for ``name ILIKE '%term%'``, the search by part of a name."""
    return sa.Index(name, "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"})


def named_subject_indexes(table: str) -> tuple[sa.Index, sa.Index]:
    """A row naming an institution, a practitioner or both: a partial index on each."""
    return (
        sa.Index(
            f"ix_{table}_institution",
            "institution_id",
            postgresql_where=sa.text("institution_id IS NOT NULL"),
        ),
        sa.Index(
            f"ix_{table}_practitioner",
            "practitioner_id",
            postgresql_where=sa.text("practitioner_id IS NOT NULL"),
        ),
    )
