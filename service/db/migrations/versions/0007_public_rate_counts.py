"""public rate counts, shared by every worker process

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # UNLOGGED: a count is worth nothing after a crash, and skipping the WAL makes it cheap.
    op.create_table(
        "public_rate_counts",
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", "window_start"),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("public_rate_counts")
