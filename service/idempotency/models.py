"""One row per (caller, Idempotency-Key): the request's fingerprint and its first answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.db.columns import timestamp_field


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index("ix_idempotency_keys_expires_at", "expires_at"),)

    owner_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    request_fingerprint: str = Field(max_length=64)
    status_code: int | None = Field(default=None)
    media_type: str | None = Field(default=None, max_length=100)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    body: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field()
