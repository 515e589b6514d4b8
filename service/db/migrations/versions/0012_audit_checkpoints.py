"""audit checkpoints and seal signatures: signed heads of the audit chain, for outsiders

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "audit_log",
        sa.Column("seal_key_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "audit_log",
        sa.Column("seal_signature", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("witnessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("witness_status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_audit_checkpoints_sequence"), "audit_checkpoints", ["sequence"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_checkpoints_sequence"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_column("audit_log", "seal_signature")
    op.drop_column("audit_log", "seal_key_id")
