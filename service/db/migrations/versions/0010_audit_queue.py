"""audit queue: commands queue audit rows without a lock; a sequencer seals them in order

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("before_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("after_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # Seal what waits before going back: the older code appends straight to audit_log.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit_queue) THEN "
        "RAISE EXCEPTION 'audit_queue is not empty: run credit-service audit seal first'; "
        "END IF; END $$"
    )
    op.drop_table("audit_queue")
