"""credit contributions: each confirmed record's parts in a score, by policy version

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:00:00.000000

Empty at first: the next recompute builds the policy in force's set from the records
(decision 0033); until a version's set is built, scores under it are derived from the
records as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_contribution_sets",
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("policy_version"),
    )
    op.create_table(
        "credit_contributions",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("stops_on", sa.Date(), nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("points", sa.Numeric(), nullable=False),
        sa.Column("rectified_points", sa.Numeric(), nullable=True),
        sa.Column("rectified_on", sa.Date(), nullable=True),
        sa.Column("rectified_known_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grade_cap", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.CheckConstraint(
            "subject_kind IN ('institution', 'practitioner')",
            name="ck_credit_contributions_subject",
        ),
        sa.PrimaryKeyConstraint("record_id", "subject_kind", "part", "policy_version"),
    )
    op.create_index(
        "ix_credit_contributions_subject",
        "credit_contributions",
        ["subject_id", "policy_version", "stops_on"],
        unique=False,
        postgresql_include=[
            "subject_kind",
            "occurred_on",
            "known_from",
            "known_until",
            "points",
            "rectified_points",
            "rectified_on",
            "rectified_known_at",
            "grade_cap",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_credit_contributions_subject", table_name="credit_contributions")
    op.drop_table("credit_contributions")
    op.drop_table("credit_contribution_sets")
