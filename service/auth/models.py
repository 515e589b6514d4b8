"""Users and their roles; staff sign-in (sessions, attempts).

A machine client holds a bearer token, stored only as its SHA-256 hash. A person holds
a login, a password (argon2id) and, when enrolled, a TOTP secret encrypted with a key
derived from the service secret. Neither a session id nor an enrolment token is stored
in clear: only their SHA-256 hashes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import id_field, optional_timestamp_field, timestamp_field


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
        sa.CheckConstraint(
            "login IS NOT NULL OR token_hash IS NOT NULL", name="ck_users_login_or_token"
        ),
        sa.CheckConstraint(
            "login IS NULL OR login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'", name="ck_users_login_shape"
        ),
        sa.UniqueConstraint("login", name="uq_users_login"),
        sa.UniqueConstraint("enrolment_token_hash", name="uq_users_enrolment_token_hash"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    region_code: str | None = Field(default=None, max_length=6)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    login: str | None = Field(default=None, max_length=64)
    password_hash: str | None = Field(default=None, max_length=255)
    totp_secret_ciphertext: str | None = Field(default=None, sa_type=sa.Text)
    # The last TOTP time step accepted: a code of that step or an earlier one is refused.
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    totp_required: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}, nullable=False
    )
    enrolment_token_hash: str | None = Field(default=None, max_length=64)
    enrolment_expires_at: datetime | None = optional_timestamp_field()
    enrolled_at: datetime | None = optional_timestamp_field()


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_sessions"
    __table_args__ = (
        sa.CheckConstraint(
            "end_reason IS NULL OR end_reason IN "
            "('sign_out', 'idle', 'absolute', 'second_factor', 'disabled', 'reset')",
            name="ck_staff_sessions_end_reason",
        ),
        sa.Index(
            "ix_staff_sessions_open_by_user",
            "user_id",
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    session_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="users.id")
    # Password accepted, TOTP code not yet: the session may only finish signing in.
    second_factor_pending: bool
    created_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    ended_at: datetime | None = optional_timestamp_field()
    end_reason: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=64)
    csrf_token: str = Field(max_length=64)


class SignInAttempt(SQLModel, table=True):
    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        sa.CheckConstraint(
            "outcome IN ('success', 'failure', 'locked')", name="ck_sign_in_attempts_outcome"
        ),
        sa.Index("ix_sign_in_attempts_login", "login", "attempted_at"),
        sa.Index("ix_sign_in_attempts_address", "address", "attempted_at"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    login: str = Field(max_length=64)
    address: str | None = Field(default=None, max_length=64)
    attempted_at: datetime = timestamp_field()
    outcome: str = Field(max_length=10)
