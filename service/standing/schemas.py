"""Response shapes of a subject's standing: score, grade, every point explained, stars, lists."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from msgspec import Struct


class ContributionOut(Struct):
    record_id: uuid.UUID
    deficiency_id: uuid.UUID | None
    code: str
    kind: str
    points: Decimal
    fact_class: str
    occurred_on: date
    stops_counting_on: date
    why: str
    grade_cap: str | None
    rectification: str | None
    points_if_rectified: Decimal | None


class LiftOut(Struct):
    """What would take the subject to the next better grade."""

    grade: str
    needs_score: Decimal
    points_short: Decimal
    held_by_caps: list[uuid.UUID]
    lifts_on: date | None
    by_expiry: list[ContributionOut]
    by_rectification: list[ContributionOut]


class StarsOut(Struct):
    assessed: int | None
    effective: int | None
    suspended: bool
    capped: bool


class ListedOut(Struct):
    entry_id: uuid.UUID
    list_type: str
    reason_code: str
    effective_from: date | None
    effective_to: date | None


class CreditOut(Struct):
    subject_kind: str
    subject_id: uuid.UUID
    name: str
    region_code: str
    as_of: date
    policy_version: str
    score: Decimal
    grade: str
    grade_by_score: str
    next_change_on: date | None
    contributions: list[ContributionOut]
    lift: LiftOut | None
    stars: StarsOut | None
    lists: list[ListedOut]
    measures: list[str]  # the codes of the measures the lists in force apply
    barred_practitioners: list[uuid.UUID]
