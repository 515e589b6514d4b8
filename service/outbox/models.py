"""The outbox table: messages written with the change that causes them (notices, sync)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import one_of, optional_timestamp_field, timestamp_field


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # the receiver refused it; an operator corrects and re-sends
    SUPERSEDED = "superseded"  # a newer version of the same record went in its place


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        one_of("status", OutboxStatus, "ck_outbox_status"),
        # Workers claim the oldest due pending messages; nothing else needs scanning.
        sa.Index(
            "ix_outbox_due",
            "available_at",
            "id",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # A platform's lane: its pending messages in the order they were written.
        sa.Index(
            "ix_outbox_topic_pending",
            "topic",
            "id",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index(
            "ix_outbox_topic_dead", "topic", "key", postgresql_where=sa.text("status = 'dead'")
        ),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    topic: str = Field(max_length=40)
    key: str = Field(max_length=64)  # what the message is about (an entry id, a record id)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    available_at: datetime = timestamp_field()
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = optional_timestamp_field()
    last_error: str | None = Field(default=None, max_length=500)
