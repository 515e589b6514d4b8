"""Stored policy versions: never changed once stored, so past answers can be replayed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import timestamp_field


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "policy_versions"
    __table_args__ = (sa.Index("ix_policy_versions_effective_from", "effective_from"),)

    version: str = Field(primary_key=True, max_length=40)
    effective_from: date
    title: str = Field(default="", max_length=200)
    document: str = Field(sa_type=sa.Text)  # the TOML text, exactly as installed
    sha256: str = Field(max_length=64)
    activated_at: datetime = timestamp_field()
    activated_by: uuid.UUID | None = Field(default=None)
