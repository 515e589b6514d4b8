"""The public read model: what anyone may see, kept current in the transactions that change it.

``public_institutions`` holds each institution's public answer, ready to serve;
``public_list_entries`` holds every list entry ever published, with a person's name
and ID number masked. Pages and the public API read only these two tables.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import (
    name_search_index,
    optional_timestamp_field,
    region_prefix_index,
    timestamp_field,
)


class PublicInstitution(SQLModel, table=True):
    __tablename__ = "public_institutions"
    __table_args__ = (
        # Search tolerant of typos and partial names: trigram similarity and ILIKE.
        name_search_index("ix_public_institutions_name_trgm"),
        region_prefix_index("ix_public_institutions_region"),
    )

    institution_id: uuid.UUID = Field(primary_key=True)
    uscc: str = Field(max_length=18, unique=True)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=6)
    document: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)  # the public answer
    computed_at: datetime = timestamp_field()
    data_updated_at: datetime | None = optional_timestamp_field()


class PublicListEntry(SQLModel, table=True):
    __tablename__ = "public_list_entries"
    __table_args__ = (
        sa.Index(
            "ix_public_list_entries_current",
            "list_type",
            "region_code",
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
        sa.Index("ix_public_list_entries_changed", "list_type", "changed_at"),
    )

    entry_id: uuid.UUID = Field(primary_key=True)
    list_type: str = Field(max_length=10)
    subject_kind: str = Field(max_length=20)
    subject_name: str = Field(max_length=200)  # a person's masked
    uscc: str | None = Field(default=None, max_length=18)
    id_number_masked: str | None = Field(default=None, max_length=18)
    region_code: str = Field(max_length=6)
    reason_code: str = Field(max_length=64)
    effective_from: date | None = Field(default=None)
    effective_to: date | None = Field(default=None)
    published_at: datetime = timestamp_field()
    ended_at: datetime | None = optional_timestamp_field()
    end_reason: str | None = Field(default=None, max_length=40)
    changed_at: datetime = timestamp_field()  # published_at, or ended_at once it ended
