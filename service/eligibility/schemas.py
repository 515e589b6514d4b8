"""Request and response shapes of subsidy eligibility and of the policy what-if."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from msgspec import Meta, Struct

from service.validation import DatedBody

MAX_ELIGIBILITY_SUBJECTS = 10_000
Code = Annotated[str, Meta(min_length=1, max_length=40)]


class SubjectIn(Struct, forbid_unknown_fields=True):
    """One subject, named by exactly one code."""

    uscc: Code | None = None
    id_number: Code | None = None


class EligibilityIn(DatedBody, forbid_unknown_fields=True):
    program: Annotated[str, Meta(min_length=1, max_length=64)]
    subjects: Annotated[list[SubjectIn], Meta(min_length=1, max_length=MAX_ELIGIBILITY_SUBJECTS)]
    as_of: date | None = None


class AnswerOut(Struct, omit_defaults=True):
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
    # With signed=true, on an ok answer: the stored decision's id and its compact JWS
    # (EdDSA; keys at /.well-known/jwks.json). Left out otherwise.
    decision_id: str | None = None  # a UUID
    decision_jws: str | None = None


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


class DecisionSubjectOut(Struct, omit_defaults=True):
    kind: str  # institution, practitioner
    uscc: str | None = None
    id_number_hash: str | None = None  # keyed HMAC-SHA256 of the ID number, hex
    id_number_masked: str | None = None


class DecisionOut(Struct):
    """A stored signed decision: what was decided, under which policy, signed by which
    key, and the SHA-256 (hex) of its JWS payload's bytes. No ID number."""

    id: uuid.UUID
    issued_at: datetime
    program: str
    as_of: date
    policy_version: str
    subject: DecisionSubjectOut
    eligible: bool
    review: bool
    reasons: list[str]
    grade: str
    effective_stars: int | None
    key_id: str
    payload_sha256: str
