"""Signed checkpoints of the audit chain's head, kept as they were signed.

The signature (``jws``) is the checkpoint; the other columns repeat what it says so that
the list can be queried. A checkpoint's worth is that copies of it live outside this
database (the witness, anyone who saved the public list): deleting rows here only hides
them from this copy's page, it does not let a rewritten chain pass ``audit verify``
against an outside copy.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import optional_timestamp_field, timestamp_field


class AuditCheckpoint(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    sequence: int = Field(sa_type=sa.BigInteger, index=True)  # the head's audit_log id
    row_hash: str = Field(max_length=64)
    signed_at: datetime = timestamp_field()
    key_id: str = Field(max_length=64)
    jws: str = Field(sa_type=sa.Text)
    # The outside witness's answer, when one is configured: None until it was asked.
    witnessed_at: datetime | None = optional_timestamp_field()
    witness_status: int | None = Field(default=None)
