"""The shapes of the public JSON answers, for the OpenAPI document and generated clients.

The public routes answer prepared bytes from the read model (service.public.readmodel,
service.public.queries) for speed, so these types are not on the hot path: they say
what those bytes hold, and the schema-conformance tests hold the bytes to them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from msgspec import Meta, Struct


class PublicMeasure(Struct):
    code: str
    zh: str
    en: str
    basis: str  # the published document the measure rests on


class PublicListing(Struct):
    list_type: str  # black, watch or red
    reason_code: str | None
    effective_from: date | None
    effective_to: date | None
    measures: list[PublicMeasure]


class PublicCredit(Struct):
    grade: str | None
    policy_version: str | None
    scored_as_of: date | None


class PublicStars(Struct):
    effective: int | None  # what is shown: capped by grade, none while suspended
    assessed: int | None
    suspended: bool
    capped: bool


class PublicPenalty(Struct):
    decision_no: str | None
    decision_date: date
    violation_type: str | None
    penalty_kinds: list[str]
    content: str | None
    fine_amount: str | None  # yuan, as decided
    legal_basis: str | None
    authority_name: str | None
    publication_end_date: date | None


class PublicCommendation(Struct):
    title: str | None
    awarding_body: str | None
    level: str | None
    date: date


class PublicInstitutionOut(Struct):
    """An institution's public credit status."""

    uscc: str
    name: str
    region_code: str
    kind: str
    status: str
    beds: int
    credit: PublicCredit
    stars: PublicStars
    lists: list[PublicListing]
    penalties: list[PublicPenalty]
    commendations: list[PublicCommendation]
    as_of: date
    computed_at: datetime
    data_updated_at: datetime | None


class PublicInstitutionSummary(Struct):
    uscc: str
    name: str
    region_code: str
    kind: str
    grade: str | None
    stars: int | None
    lists: list[str]


class PublicSearchPage(Struct):
    items: list[PublicInstitutionSummary]
    total: Annotated[
        int,
        Meta(
            description="how many institutions match; only a lower bound (at least this"
            " many) when total_is_estimate is true"
        ),
    ]
    page: int
    page_size: int
    total_is_estimate: Annotated[
        bool,
        Meta(
            description="true when a name search stopped reading one of its candidate"
            " lists (each reads a bounded number of the best names): total is then at"
            " least, not exactly, the number of matches"
        ),
    ] = False


class PublicListEntryOut(Struct):
    entry_id: uuid.UUID
    list_type: str
    subject_kind: str  # institution or practitioner
    name: str | None  # a person's name only masked, and only while black-listed
    uscc: str | None
    id_number_masked: str | None
    region_code: str
    reason_code: str | None
    effective_from: date | None
    effective_to: date | None
    published_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class PublicListPage(Struct):
    list_type: str
    items: list[PublicListEntryOut]
    total: int
    page: int
    page_size: int
