"""Derived credit state: each subject's current score, its history, and assessed star ratings.

``credit_scores`` holds one row per subject: the score and grade as of ``as_of`` under
``policy_version``, valid until ``next_change_on`` (when a fact stops counting). Rows
are rewritten only when something changes, and each change appends to
``credit_score_history``. ``credit_contributions`` holds each confirmed record's parts
under a policy version (decision 0033). Everything here can be recomputed from the records.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import (
    id_field,
    optional_timestamp_field,
    region_prefix_index,
    timestamp_field,
)

SCORE_TYPE = sa.Numeric(8, 2)


class CreditScore(SQLModel, table=True):
    __tablename__ = "credit_scores"
    __table_args__ = (
        sa.CheckConstraint(
            "subject_kind IN ('institution', 'practitioner')", name="ck_credit_scores_subject"
        ),
        region_prefix_index("ix_credit_scores_region_code"),
    )

    subject_kind: str = Field(primary_key=True, max_length=20)
    subject_id: uuid.UUID = Field(primary_key=True)
    region_code: str = Field(max_length=6)
    score: Decimal = Field(sa_type=SCORE_TYPE)
    grade: str = Field(max_length=2)
    policy_version: str = Field(max_length=40)
    as_of: date
    next_change_on: date | None = Field(default=None)
    computed_at: datetime = timestamp_field()


class CreditScoreChange(SQLModel, table=True):
    __tablename__ = "credit_score_history"
    __table_args__ = (
        sa.Index("ix_credit_score_history_subject", "subject_kind", "subject_id", "computed_at"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    subject_kind: str = Field(max_length=20)
    subject_id: uuid.UUID
    score: Decimal = Field(sa_type=SCORE_TYPE)
    grade: str = Field(max_length=2)
    policy_version: str = Field(max_length=40)
    as_of: date
    computed_at: datetime = timestamp_field()
    cause: str = Field(max_length=20)


class CreditContributionSet(SQLModel, table=True):
    """A policy version whose contributions are all in ``credit_contributions``: built
    once from the records, kept since by every record event (``credit.contributions``)."""

    __tablename__ = "credit_contribution_sets"

    policy_version: str = Field(primary_key=True, max_length=40)
    built_at: datetime = timestamp_field()


# What scoring a moment reads of a contribution beyond its key columns.
SUMMED_COLUMNS = [
    "subject_kind",
    "occurred_on",
    "known_from",
    "known_until",
    "points",
    "rectified_points",
    "rectified_on",
    "rectified_known_at",
    "grade_cap",
]


class CreditContribution(SQLModel, table=True):
    """One part a confirmed record plays in its subject's score under a policy version:
    a deficiency of an inspection (``part`` is its position) or the first rule a record
    matches (``part`` 0), with the points, window and cap the policy gives it and when it
    was known. Scoring a moment sums these instead of re-deriving them from the records;
    what depends on the moment is only which rows count and whether a rectification
    was known by then (``rectified_points`` from then on)."""

    __tablename__ = "credit_contributions"
    __table_args__ = (
        sa.CheckConstraint(
            "subject_kind IN ('institution', 'practitioner')",
            name="ck_credit_contributions_subject",
        ),
        # A batch of subjects (eligibility for a past date) reads by subject the rows
        # that still count, from the index alone once vacuumed (about 30% faster). The
        # uuid leads: a descent then compares uuids, not collated text (30% again).
        sa.Index(
            "ix_credit_contributions_subject",
            "subject_id",
            "policy_version",
            "stops_on",
            postgresql_include=SUMMED_COLUMNS,
        ),
    )

    record_id: uuid.UUID = Field(primary_key=True)  # first in the key: see the index
    subject_kind: str = Field(primary_key=True, max_length=20)
    part: int = Field(primary_key=True)
    policy_version: str = Field(primary_key=True, max_length=40)
    subject_id: uuid.UUID
    occurred_on: date
    stops_on: date  # the first day it no longer counts
    known_from: datetime = Field(sa_type=sa.DateTime(timezone=True))  # its confirmation
    known_until: datetime | None = optional_timestamp_field()  # superseded or revoked
    points: Decimal = Field(sa_type=sa.Numeric())
    rectified_points: Decimal | None = Field(default=None, sa_type=sa.Numeric())
    rectified_on: date | None = Field(default=None)
    rectified_known_at: datetime | None = optional_timestamp_field()
    grade_cap: str | None = Field(default=None, max_length=2)


class StarRating(SQLModel, table=True):
    """A star level (GB/T 37276-2018) assessed for an institution, valid for a period."""

    __tablename__ = "star_ratings"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="ck_star_ratings_level"),
        sa.CheckConstraint("valid_to >= valid_from", name="ck_star_ratings_validity"),
        sa.Index("ix_star_ratings_institution", "institution_id", "valid_from"),
    )

    id: uuid.UUID = id_field()
    institution_id: uuid.UUID = Field(foreign_key="institutions.id")
    level: int
    assessor: str = Field(max_length=200)
    assessed_on: date
    valid_from: date
    valid_to: date
    document_no: str | None = Field(default=None, max_length=100)
    recorded_at: datetime = timestamp_field()
    recorded_by: uuid.UUID | None = Field(default=None)
