"""staff sign-in: logins, passwords, TOTP, enrolment, sessions, attempts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Staff who sign in have a login and no bearer token; machine clients the reverse.
    op.alter_column("users", "token_hash", existing_type=sa.String(length=64), nullable=True)
    op.add_column(
        "users", sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
    )
    op.add_column(
        "users",
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    )
    op.add_column("users", sa.Column("totp_secret_ciphertext", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "users",
        sa.Column("totp_required", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "users",
        sa.Column(
            "enrolment_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
    )
    op.add_column(
        "users", sa.Column("enrolment_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("users", sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_unique_constraint("uq_users_login", "users", ["login"])
    op.create_unique_constraint("uq_users_enrolment_token_hash", "users", ["enrolment_token_hash"])
    op.create_check_constraint(
        "ck_users_login_or_token", "users", "login IS NOT NULL OR token_hash IS NOT NULL"
    )
    op.create_check_constraint(
        "ck_users_login_shape", "users", "login IS NULL OR login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'"
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("second_factor_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.CheckConstraint(
            "end_reason IS NULL OR end_reason IN "
            "('sign_out', 'idle', 'absolute', 'second_factor', 'disabled', 'reset')",
            name="ck_staff_sessions_end_reason",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_hash"),
    )
    # Ending every open session of a user (disabled, enrolment reset) finds them here.
    op.create_index(
        "ix_staff_sessions_open_by_user",
        "staff_sessions",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('success', 'failure', 'locked')", name="ck_sign_in_attempts_outcome"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sign_in_attempts_login", "sign_in_attempts", ["login", "attempted_at"], unique=False
    )
    op.create_index(
        "ix_sign_in_attempts_address",
        "sign_in_attempts",
        ["address", "attempted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempts_address", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_login", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_index("ix_staff_sessions_open_by_user", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_constraint("ck_users_login_shape", "users", type_="check")
    op.drop_constraint("ck_users_login_or_token", "users", type_="check")
    op.drop_constraint("uq_users_enrolment_token_hash", "users", type_="unique")
    op.drop_constraint("uq_users_login", "users", type_="unique")
    for column in (
        "enrolled_at",
        "enrolment_expires_at",
        "enrolment_token_hash",
        "totp_required",
        "totp_last_step",
        "totp_secret_ciphertext",
        "password_hash",
        "login",
    ):
        op.drop_column("users", column)
    op.execute("DELETE FROM users WHERE token_hash IS NULL")
    op.alter_column("users", "token_hash", existing_type=sa.String(length=64), nullable=False)
