"""List entries: a subject on the black, watch or red list, and when it is in force.

The due-process state machine of the lists stage moves an entry from proposal to
publication and its end; what the credit engine needs is only when an entry is in
force: published (``published_at``), between ``effective_from`` and ``effective_to``,
and not yet ended (``ended_at``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import id_field, one_of, optional_timestamp_field, timestamp_field
from service.policy.model import ListType, SubjectType


class ListEntry(SQLModel, table=True):
    __tablename__ = "list_entries"
    __table_args__ = (
        one_of("list_type", ListType, "ck_list_entries_list_type"),
        one_of("subject_kind", SubjectType, "ck_list_entries_subject_kind"),
        sa.Index("ix_list_entries_subject", "subject_kind", "subject_id"),
        sa.Index(
            "ix_list_entries_published",
            "list_type",
            "region_code",
            postgresql_where=sa.text("published_at IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    list_type: str = Field(max_length=10)
    subject_kind: str = Field(max_length=20)
    subject_id: uuid.UUID
    region_code: str = Field(max_length=6)
    status: str = Field(max_length=20)
    reason_code: str = Field(max_length=64)
    basis: str = Field(default="", max_length=2000)
    effective_from: date | None = Field(default=None)
    effective_to: date | None = Field(default=None)
    published_at: datetime | None = optional_timestamp_field()
    ended_at: datetime | None = optional_timestamp_field()
    end_reason: str | None = Field(default=None, max_length=40)
    created_at: datetime = timestamp_field()
    version: int = Field(default=1)
