"""Request and response shapes of the credit API: standings, stars, eligibility, policies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from msgspec import Meta, Struct

from service.registry.schemas import NO_NUL
from service.validation import DatedBody

MAX_ELIGIBILITY_SUBJECTS = 10_000
Code = Annotated[str, Meta(min_length=1, max_length=40)]


class StarRatingIn(DatedBody, forbid_unknown_fields=True, kw_only=True):
    level: Annotated[int, Meta(ge=1, le=5)]
    assessor: Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
    assessed_on: date
    valid_from: date
    valid_to: date
    document_no: Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)] | None = None


class StarRatingOut(Struct):
    id: uuid.UUID
    institution_id: uuid.UUID
    level: int
    assessor: str
    assessed_on: date
    valid_from: date
    valid_to: date
    document_no: str | None
    recorded_at: datetime


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


class SubjectIn(Struct, forbid_unknown_fields=True):
    """One subject, named by exactly one code."""

    uscc: Code | None = None
    id_number: Code | None = None


class EligibilityIn(DatedBody, forbid_unknown_fields=True):
    program: Annotated[str, Meta(min_length=1, max_length=64)]
    subjects: Annotated[list[SubjectIn], Meta(min_length=1, max_length=MAX_ELIGIBILITY_SUBJECTS)]
    as_of: date | None = None


class AnswerOut(Struct):
    index: int
    status: str  # ok, not_found, invalid
    uscc: str | None
    id_number_masked: str | None
    message: str | None
    eligible: bool | None
    review: bool | None
    reasons: list[str]
    grade: str | None
    score: Decimal | None
    effective_stars: int | None
    assessed_stars: int | None
    lists: list[str]
    policy_version: str
    as_of: date


class ReasonOut(Struct):
    effect: str
    zh: str
    en: str


class EligibilityOut(Struct):
    program: str
    policy_version: str
    as_of: date
    answers: list[AnswerOut]
    reasons: dict[str, ReasonOut]  # every code the answers carry, defined


class PolicyVersionOut(Struct):
    version: str
    effective_from: date
    title: str
    sha256: str
    activated_at: datetime
    in_force: bool


class OutcomeOut(Struct):
    grade: str
    stars: int | None
    eligible: dict[str, bool]


class ChangeOut(Struct):
    subject_kind: str
    subject_id: uuid.UUID
    region_code: str
    before: OutcomeOut
    after: OutcomeOut


class SimulationOut(Struct):
    current_version: str
    draft_version: str
    as_of: date
    subjects: int
    grade_changes: int
    star_changes: int
    eligibility_changes: dict[str, int]
    changes_total: int
    changes: list[ChangeOut]
