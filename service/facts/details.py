"""The fields of each kind of fact, with the values each may take.

One struct per kind holds its ``details``; the records API takes them inside a record's
envelope (service.records.schemas), the spreadsheet import derives its columns from
them, the policy's rules name their fields, and stored details (JSONB) are read back
through them (``read_details``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from service.facts.kinds import (
    AbuseCategory,
    AbuseHarm,
    CommendationLevel,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintOutcome,
    DeficiencyScope,
    DeficiencySeverity,
    InspectionType,
    PenaltyKind,
    PenaltySeverity,
    RecordKind,
    ViolationCategory,
)
from service.validation import NO_NUL, DatedBody, PersonName

ShortText = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]
Text = Annotated[str, Meta(min_length=1, max_length=500, pattern=NO_NUL)]
OrgName = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
Code = Annotated[str, Meta(min_length=1, max_length=40, description="USCC, checked")]
Money = Annotated[Decimal, Meta(description="yuan, at most 2 decimals, not negative")]


class InspectionDetails(Struct, forbid_unknown_fields=True, kw_only=True):
    inspection_type: InspectionType
    inspectors: Annotated[list[PersonName], Meta(min_length=1, max_length=20)]
    summary: LongText = ""


class DeficiencyIn(DatedBody, forbid_unknown_fields=True, kw_only=True):
    item: Text
    code: ShortText | None = None
    severity: DeficiencySeverity
    scope: DeficiencyScope
    rectification_deadline: date | None = None
    rectified_on: date | None = None


class ComplaintDetails(Struct, forbid_unknown_fields=True, kw_only=True):
    channel: ComplaintChannel
    category: ComplaintCategory
    outcome: ComplaintOutcome
    summary: LongText = ""


class AbuseFindingDetails(Struct, forbid_unknown_fields=True, kw_only=True):
    category: AbuseCategory
    harm: AbuseHarm
    description: LongText = ""


class PenaltyDetails(DatedBody, forbid_unknown_fields=True, kw_only=True):
    """The dual-disclosure (双公示) fields of an administrative penalty decision.

    The decision date is the record's ``occurred_on`` and the decision number its
    ``document_no``; the party's name and code come from the registry.
    """

    violation_type: Text
    violation_facts: LongText
    penalty_kinds: Annotated[list[PenaltyKind], Meta(min_length=1, max_length=6)]
    content: LongText
    severity: PenaltySeverity
    authority_name: OrgName
    authority_uscc: Code
    fine_amount: Money | None = None
    confiscated_amount: Money | None = None
    licence_affected: Text | None = None
    valid_until: date | None = None
    publication_end_date: date | None = None
    data_source: OrgName | None = None
    data_source_uscc: Code | None = None
    violation_category: ViolationCategory | None = None

    @property
    def publication_ends_on(self) -> date:
        """The last day it is published: records.rules.stored_details sets it on every
        stored penalty (from the severity when the body left it out)."""
        if self.publication_end_date is None:
            raise ValueError("a stored penalty always has its publication end date")
        return self.publication_end_date


class CommendationDetails(Struct, forbid_unknown_fields=True, kw_only=True):
    title: Text
    awarding_body: OrgName
    level: CommendationLevel
    description: LongText = ""


Details = (
    InspectionDetails
    | ComplaintDetails
    | AbuseFindingDetails
    | PenaltyDetails
    | CommendationDetails
)

DETAILS_OF_KIND: dict[RecordKind, type[Details]] = {
    RecordKind.INSPECTION: InspectionDetails,
    RecordKind.COMPLAINT: ComplaintDetails,
    RecordKind.ABUSE_FINDING: AbuseFindingDetails,
    RecordKind.PENALTY: PenaltyDetails,
    RecordKind.COMMENDATION: CommendationDetails,
}


def read_details(kind: RecordKind | str, stored: Mapping[str, Any]) -> Details:
    """A record's stored details (JSONB: dates and amounts as text) as its kind's struct.

    Code reads a record's details only through this (or the per-kind helpers below), so a
    field's name and type are checked where it is read, not found missing at run time.
    """
    return msgspec.convert(stored, DETAILS_OF_KIND[RecordKind(kind)], strict=False)


def penalty_details(stored: Mapping[str, Any]) -> PenaltyDetails:
    return msgspec.convert(stored, PenaltyDetails, strict=False)


def commendation_details(stored: Mapping[str, Any]) -> CommendationDetails:
    return msgspec.convert(stored, CommendationDetails, strict=False)
