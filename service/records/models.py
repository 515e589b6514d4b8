"""Record tables: one envelope row per fact, its kind's details as JSONB, deficiencies as rows.

A record is a draft until confirmed; from then on the database itself refuses any
change to its content (trigger ``records_guard`` in migration 0002): only the
lifecycle columns may move forward (confirmed → superseded or revoked). A correction
is a new row whose ``supersedes_id`` names the one it replaces; every version of one
fact shares a ``chain_id`` (the id of the original), so a history reads one chain.
Deficiencies are rows of their own because each is scored and each is rectified on
its own date: the one write a confirmed inspection accepts is a deficiency's
rectification, once, from empty to a date.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import (
    id_field,
    named_subject_indexes,
    one_of,
    optional_timestamp_field,
    region_prefix_index,
    timestamp_field,
)
from service.facts.kinds import DeficiencyScope, DeficiencySeverity, RecordKind, RecordStatus


class Record(SQLModel, table=True):
    __tablename__ = "records"
    __table_args__ = (
        one_of("kind", RecordKind, "ck_records_kind"),
        one_of("status", RecordStatus, "ck_records_status"),
        sa.CheckConstraint(
            "institution_id IS NOT NULL OR practitioner_id IS NOT NULL", name="ck_records_subject"
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (confirmed_at IS NULL)", name="ck_records_confirmed_at"
        ),
        sa.CheckConstraint(
            "(status = 'superseded') = (superseded_at IS NOT NULL)",
            name="ck_records_superseded_at",
        ),
        sa.CheckConstraint(
            "(status = 'revoked') = (revoked_at IS NOT NULL AND revocation_reason IS NOT NULL)",
            name="ck_records_revoked",
        ),
        sa.CheckConstraint(
            "(supersedes_id IS NULL) = (correction_reason IS NULL)",
            name="ck_records_correction_reason",
        ),
        *named_subject_indexes("records"),
        sa.Index("ix_records_chain", "chain_id"),
        region_prefix_index("ix_records_region_code"),
        # A confirmed record is replaced by at most one correction.
        sa.Index(
            "uq_records_one_successor",
            "supersedes_id",
            unique=True,
            postgresql_where=sa.text("supersedes_id IS NOT NULL AND status <> 'draft'"),
        ),
        # The dual-disclosure export reads penalties by when they were confirmed.
        sa.Index(
            "ix_records_penalties_confirmed_at",
            "confirmed_at",
            postgresql_where=sa.text("kind = 'penalty' AND status <> 'draft'"),
        ),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=20)
    status: str = Field(default=RecordStatus.DRAFT.value, max_length=20)
    chain_id: uuid.UUID
    supersedes_id: uuid.UUID | None = Field(default=None, foreign_key="records.id")
    correction_reason: str | None = Field(default=None, max_length=1000)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id")
    practitioner_id: uuid.UUID | None = Field(default=None, foreign_key="practitioners.id")
    region_code: str = Field(max_length=6)
    occurred_on: date
    document_no: str | None = Field(default=None, max_length=100)
    legal_basis: str | None = Field(default=None, max_length=1000)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    version: int = Field(default=1)
    recorded_at: datetime = timestamp_field()
    recorded_by: uuid.UUID | None = Field(default=None)
    updated_at: datetime = timestamp_field()
    confirmed_at: datetime | None = optional_timestamp_field()
    confirmed_by: uuid.UUID | None = Field(default=None)
    superseded_at: datetime | None = optional_timestamp_field()
    revoked_at: datetime | None = optional_timestamp_field()
    revoked_by: uuid.UUID | None = Field(default=None)
    revocation_reason: str | None = Field(default=None, max_length=1000)
    revocation_document_no: str | None = Field(default=None, max_length=100)


class Deficiency(SQLModel, table=True):
    __tablename__ = "deficiencies"
    __table_args__ = (
        one_of("severity", DeficiencySeverity, "ck_deficiencies_severity"),
        one_of("scope", DeficiencyScope, "ck_deficiencies_scope"),
        sa.UniqueConstraint("record_id", "position", name="uq_deficiencies_position"),
        sa.CheckConstraint(
            "(rectified_on IS NULL) = (rectification_recorded_at IS NULL)",
            name="ck_deficiencies_rectification",
        ),
    )

    id: uuid.UUID = id_field()
    record_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int
    item: str = Field(max_length=500)
    code: str | None = Field(default=None, max_length=100)
    severity: str = Field(max_length=20)
    scope: str = Field(max_length=20)
    rectification_deadline: date | None = Field(default=None)
    rectified_on: date | None = Field(default=None)
    rectification_recorded_at: datetime | None = optional_timestamp_field()
    rectification_recorded_by: uuid.UUID | None = Field(default=None)
    rectification_note: str | None = Field(default=None, max_length=4000)

    @property
    def rectified_in_time(self) -> bool | None:
        """None while open or without a deadline; otherwise whether the deadline was met."""
        if self.rectified_on is None or self.rectification_deadline is None:
            return None
        return self.rectified_on <= self.rectification_deadline
