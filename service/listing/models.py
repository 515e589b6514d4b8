"""List entries and everything their due process leaves behind.

An entry moves through the states of ``service.listing.machine``; each move is a
``list_transitions`` row (who, when, under which rule and document, why), numbered per
entry so that two workers can never both record the same step. Objections, repair
applications and notices are rows of their own, kept for good.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import id_field, one_of, optional_timestamp_field, timestamp_field
from service.listing.machine import OPEN, EntryStatus
from service.policy.document import ListType, SubjectType

_OPEN = ", ".join(f"'{status.value}'" for status in sorted(OPEN))


class ListEntry(SQLModel, table=True):
    __tablename__ = "list_entries"
    __table_args__ = (
        one_of("list_type", ListType, "ck_list_entries_list_type"),
        one_of("subject_kind", SubjectType, "ck_list_entries_subject_kind"),
        one_of("status", EntryStatus, "ck_list_entries_status"),
        sa.Index("ix_list_entries_subject", "subject_kind", "subject_id"),
        sa.Index(
            "ix_list_entries_published",
            "list_type",
            "region_code",
            postgresql_where=sa.text("published_at IS NOT NULL"),
        ),
        # One open entry per list and subject: a trigger firing twice proposes once.
        sa.Index(
            "uq_list_entries_open",
            "list_type",
            "subject_kind",
            "subject_id",
            unique=True,
            postgresql_where=sa.text(f"status IN ({_OPEN})"),
        ),
        # The worker's question: which published entries have run out?
        sa.Index(
            "ix_list_entries_due",
            "effective_to",
            postgresql_where=sa.text("status = 'published'"),
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
    trigger_record_id: uuid.UUID | None = Field(default=None)
    proposed_by: uuid.UUID | None = Field(default=None)
    proposed_at: datetime | None = optional_timestamp_field()
    notified_at: datetime | None = optional_timestamp_field()
    objection_deadline: date | None = Field(default=None)
    # The server default lets migration 0004 add the column to rows that already existed.
    deadline_by_fallback: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    decided_by: uuid.UUID | None = Field(default=None)
    decided_at: datetime | None = optional_timestamp_field()
    publish_by: date | None = Field(default=None)
    effective_from: date | None = Field(default=None)
    effective_to: date | None = Field(default=None)
    published_at: datetime | None = optional_timestamp_field()
    ended_at: datetime | None = optional_timestamp_field()
    end_reason: str | None = Field(default=None, max_length=40)
    created_at: datetime = timestamp_field()
    version: int = Field(default=1)


class ListTransition(SQLModel, table=True):
    __tablename__ = "list_transitions"
    __table_args__ = (sa.UniqueConstraint("entry_id", "seq", name="uq_list_transitions_seq"),)

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    entry_id: uuid.UUID = Field(foreign_key="list_entries.id", index=True)
    seq: int
    action: str = Field(max_length=30)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor_id: uuid.UUID | None = Field(default=None)
    actor_role: str = Field(max_length=20)
    occurred_at: datetime = timestamp_field()
    rule: str = Field(default="", max_length=200)
    basis_document: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=2000)


class EntryFiling(SQLModel):
    """What a subject files against an entry (an objection, a repair application): recorded
    by staff, pending until a second person rules on it."""

    id: uuid.UUID = id_field()
    entry_id: uuid.UUID = Field(foreign_key="list_entries.id", index=True)
    filed_on: date
    recorded_at: datetime = timestamp_field()
    recorded_by: uuid.UUID | None = Field(default=None)
    status: str = Field(default="pending", max_length=20)


class Objection(EntryFiling, table=True):
    __tablename__ = "list_objections"

    filed_by_name: str = Field(max_length=100)
    statement: str = Field(max_length=4000)
    evidence: str = Field(default="", max_length=4000)
    resolved_by: uuid.UUID | None = Field(default=None)
    resolved_at: datetime | None = optional_timestamp_field()
    resolution: str | None = Field(default=None, max_length=2000)


class RepairApplication(EntryFiling, table=True):
    __tablename__ = "repair_applications"

    evidence: str = Field(max_length=4000)
    obligations_fulfilled: bool
    public_commitment: str = Field(max_length=4000)
    reviewed_by: uuid.UUID | None = Field(default=None)
    reviewed_at: datetime | None = optional_timestamp_field()
    comment: str | None = Field(default=None, max_length=2000)
    unmet: list[str] = Field(default_factory=list, sa_type=JSONB)  # conditions not met


class DocumentKind(StrEnum):
    """The documents an entry's due process writes to its subject."""

    NOTICE = "notice"  # 事先告知书 (the red list: 公示), with the objection deadline
    LISTING = "listing"  # 列入决定书
    DISMISSAL = "dismissal"  # 不予列入决定书: dismissed, or withdrawn after the notice
    OBJECTION_UPHELD = "objection_upheld"  # 异议复核决定书: the objection stands
    OBJECTION_REJECTED = "objection_rejected"  # 异议复核决定书: it does not
    REPAIR_APPROVED = "repair_approved"  # 信用修复决定书: removed early
    REPAIR_REFUSED = "repair_refused"  # 不予信用修复决定书
    REMOVAL = "removal"  # 移出决定书: expired, or revoked


class Notice(SQLModel, table=True):
    """A document written to the subject (or the public, for the red list), as sent: the
    prior notice or a decision, one table and one delivery lane for every kind."""

    __tablename__ = "list_notices"
    __table_args__ = (
        one_of("kind", DocumentKind, "ck_list_notices_kind"),
        # Only a notice sets a deadline to object; it always does.
        sa.CheckConstraint(
            "(kind = 'notice') = (objection_deadline IS NOT NULL)", name="ck_list_notices_deadline"
        ),
    )

    id: uuid.UUID = id_field()
    # The order documents were written in, even within one instant.
    seq: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), nullable=False)
    )
    entry_id: uuid.UUID = Field(foreign_key="list_entries.id", index=True)
    kind: str = Field(default=DocumentKind.NOTICE.value, max_length=30)
    document_no: str | None = Field(default=None, max_length=200)  # 文号, when the step gave one
    document: str = Field(sa_type=sa.Text)
    objection_deadline: date | None = Field(default=None)
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = optional_timestamp_field()
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)


class JobRun(SQLModel, table=True):
    """When a scheduled job last ran, so that several workers run it once a day."""

    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=60)
    last_run_on: date
    last_run_at: datetime = timestamp_field()
