"""The local view of what the platforms hold, and what they sent us (the messages that
carry it are in the outbox, service.outbox).

- ``sync_platforms``: the platforms of the platforms file, registered so that a
  transaction anywhere can fan a change out to them; with each one's delivery state
  (backoff, last success, last error) and its inbound cursor.
- ``sync_records``: every record we disclose, at its current version, as the
  platforms should hold it; the digest and reconciliation compare against this.
- ``external_records``: other departments' list entries the platforms fed us.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import (
    named_subject_indexes,
    one_of,
    optional_timestamp_field,
    timestamp_field,
)


class SyncPlatform(SQLModel, table=True):
    __tablename__ = "sync_platforms"

    name: str = Field(primary_key=True, max_length=40)
    record_types: list[str] = Field(default_factory=list, sa_type=ARRAY(sa.String(16)))
    pull: bool = Field(default=False)
    enabled: bool = Field(default=True)
    registered_at: datetime = timestamp_field()
    # Delivery: when it may be tried again (Retry-After, backoff) and how it went.
    retry_at: datetime | None = optional_timestamp_field()
    failures: int = Field(default=0)  # consecutive failed attempts, for the backoff
    last_attempt_at: datetime | None = optional_timestamp_field()
    last_success_at: datetime | None = optional_timestamp_field()
    last_error: str | None = Field(default=None, max_length=500)
    # Inbound: where the changes feed resumes, stored with what it brought.
    inbound_cursor: str | None = Field(default=None, max_length=200)
    last_pull_at: datetime | None = optional_timestamp_field()
    last_pull_error: str | None = Field(default=None, max_length=500)


class SyncAction(StrEnum):
    PUBLISH = "publish"
    WITHDRAW = "withdraw"


class SyncRecord(SQLModel, table=True):
    __tablename__ = "sync_records"
    __table_args__ = (
        one_of("action", SyncAction, "ck_sync_records_action"),
        sa.Index("ix_sync_records_type", "record_type", "record_id"),
    )

    record_id: str = Field(primary_key=True, max_length=64)
    record_type: str = Field(max_length=16)
    source_id: uuid.UUID = Field(index=True)  # the list entry, or the penalty's chain
    version: int
    action: str = Field(max_length=10)
    # The record as sent, without record_id and version (columns) and without a
    # person's ID number, which is decrypted only when it is sent.
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    person_id: uuid.UUID | None = Field(default=None)
    updated_at: datetime = timestamp_field()


class ExternalRecord(SQLModel, table=True):
    """An entry of another department's list, as a platform fed it, matched to our subject."""

    __tablename__ = "external_records"
    __table_args__ = (*named_subject_indexes("external_records"),)

    platform: str = Field(primary_key=True, max_length=40)
    record_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_type=sa.BigInteger)
    version: int
    record_type: str = Field(max_length=40)
    action: str = Field(max_length=10)
    subject_kind: str = Field(max_length=10)
    subject_name: str = Field(default="", max_length=200)  # a person's masked
    uscc: str | None = Field(default=None, max_length=18)
    id_number_hash: str | None = Field(default=None, max_length=64)
    id_number_masked: str | None = Field(default=None, max_length=18)
    institution_id: uuid.UUID | None = Field(default=None)
    practitioner_id: uuid.UUID | None = Field(default=None)
    effective_from: date | None = Field(default=None)
    effective_to: date | None = Field(default=None)
    reason_code: str = Field(default="", max_length=64)
    summary: str = Field(default="", max_length=2000)
    authority: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    proposed_entry_id: uuid.UUID | None = Field(default=None)  # the list entry it proposed
    item: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)  # as fed, subject masked
    received_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
