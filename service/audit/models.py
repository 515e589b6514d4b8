"""The append-only audit log, and the queue its rows wait in until they are sealed.

A command inserts its rows into ``audit_queue`` in its own transaction, with no lock;
the sequencer (``chain.seal``) moves them, in order, into ``audit_log``, where each row
carries the hash of the one before it (decision 0030).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.audit.content import CONTENT_ROWS, INDEX
from service.db.columns import optional_timestamp_field, timestamp_field


class AuditFields(SQLModel):
    """What a command says happened: everything but the row's place in the chain."""

    occurred_at: datetime = timestamp_field()
    actor_id: uuid.UUID | None = Field(default=None)
    actor_role: str = Field(max_length=20)
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=40)
    target_id: str = Field(max_length=64)
    before_digest: str | None = Field(default=None, max_length=64)
    after_digest: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)


class AuditQueued(AuditFields, table=True):
    """A committed row not yet sealed into the chain; its id orders the sealing."""

    __tablename__ = "audit_queue"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )


class AuditEntry(AuditFields, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        # A target's latest content row (decision 0035), read backwards from its last id.
        sa.Index(INDEX, "target_type", "target_id", "id", postgresql_where=sa.text(CONTENT_ROWS)),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64)
    # The sealer signs the last row of each batch it seals (Ed25519 over its row hash):
    # a row appended below the sealer has none after it, and a rewritten chain ends in a
    # hash no signature covers (decision 0036). Not part of the row's own hash.
    seal_key_id: str | None = Field(default=None, max_length=64)
    seal_signature: str | None = Field(default=None, max_length=100)


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint of the chain's head, kept as it was signed.

    The signature (``jws``) is the checkpoint; the other columns repeat what it says so
    the list can be queried. Its worth is in the copies outside this database (the
    witness, whoever saved the public list): deleting rows here hides them from this
    copy's page but cannot make a rewritten chain pass a verification against a copy.
    """

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
