"""Users and their roles; a token is stored only as its SHA-256 hash."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import id_field, timestamp_field


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('admin', 'inspector', 'reviewer', 'subsidy_client')", name="ck_users_role"
        ),
        sa.CheckConstraint(
            "region_code IS NULL OR region_code ~ '^[0-9]{2}([0-9]{2}){0,2}$'",
            name="ck_users_region_code",
        ),
        sa.CheckConstraint(
            "role NOT IN ('inspector', 'reviewer') OR region_code IS NOT NULL",
            name="ck_users_regional_roles_have_region",
        ),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    region_code: str | None = Field(default=None, max_length=6)
    token_hash: str = Field(max_length=64, unique=True)
    active: bool = Field(default=True)
    created_at: datetime = timestamp_field()
