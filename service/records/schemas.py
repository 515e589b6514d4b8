"""Request and response shapes of the records API.

A record body is a tagged union on ``kind``: the envelope every record shares
(subjects, dates, document number, legal basis) plus the ``details`` of its kind.
The same shapes validate API bodies and spreadsheet rows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from service.facts.details import (
    AbuseFindingDetails,
    CommendationDetails,
    ComplaintDetails,
    DeficiencyIn,
    InspectionDetails,
    LongText,
    PenaltyDetails,
)
from service.facts.kinds import (
    RecordKind,
)
from service.validation import NO_NUL, DatedBody

DocumentNo = Annotated[
    str,
    Meta(min_length=1, max_length=100, pattern=NO_NUL, description="e.g. 湖民罚〔2026〕12号"),
]
LegalBasis = Annotated[
    str,
    Meta(min_length=1, max_length=1000, pattern=NO_NUL, description="the provisions relied on"),
]
Reason = Annotated[str, Meta(min_length=1, max_length=1000, pattern=NO_NUL)]


class RecordBase(DatedBody, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    institution_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    occurred_on: Annotated[date, Meta(description="the date it happened (decision date)")]
    document_no: DocumentNo | None = None
    legal_basis: LegalBasis | None = None


class InspectionIn(RecordBase, tag=RecordKind.INSPECTION.value):
    details: InspectionDetails
    deficiencies: Annotated[list[DeficiencyIn], Meta(max_length=200)] = []


class ComplaintIn(RecordBase, tag=RecordKind.COMPLAINT.value):
    details: ComplaintDetails


class AbuseFindingIn(RecordBase, tag=RecordKind.ABUSE_FINDING.value):
    details: AbuseFindingDetails


class PenaltyIn(RecordBase, tag=RecordKind.PENALTY.value):
    details: PenaltyDetails


class CommendationIn(RecordBase, tag=RecordKind.COMMENDATION.value):
    details: CommendationDetails


RecordIn = InspectionIn | ComplaintIn | AbuseFindingIn | PenaltyIn | CommendationIn

BODY_OF_KIND: dict[RecordKind, type[RecordBase]] = {
    RecordKind.INSPECTION: InspectionIn,
    RecordKind.COMPLAINT: ComplaintIn,
    RecordKind.ABUSE_FINDING: AbuseFindingIn,
    RecordKind.PENALTY: PenaltyIn,
    RecordKind.COMMENDATION: CommendationIn,
}


class CorrectionIn(Struct, forbid_unknown_fields=True):
    """A corrected record that replaces a confirmed one, and why."""

    reason: Reason
    record: RecordIn


class RecordRevocationIn(Struct, forbid_unknown_fields=True):
    reason: Reason
    document_no: DocumentNo | None = None


class RectificationIn(DatedBody, forbid_unknown_fields=True):
    rectified_on: date
    note: LongText = ""


class DeficiencyOut(Struct):
    id: uuid.UUID
    position: int
    item: str
    code: str | None
    severity: str
    scope: str
    rectification_deadline: date | None
    rectified_on: date | None
    rectified_in_time: bool | None
    rectification_recorded_at: datetime | None
    rectification_note: str | None


class RecordOut(Struct):
    id: uuid.UUID
    kind: str
    status: str
    chain_id: uuid.UUID
    supersedes_id: uuid.UUID | None
    superseded_by_id: uuid.UUID | None
    correction_reason: str | None
    institution_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    region_code: str
    occurred_on: date
    document_no: str | None
    legal_basis: str | None
    details: dict[str, Any]
    deficiencies: list[DeficiencyOut]
    version: int
    recorded_at: datetime
    recorded_by: uuid.UUID | None
    confirmed_at: datetime | None
    confirmed_by: uuid.UUID | None
    superseded_at: datetime | None
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None
    revocation_reason: str | None
    revocation_document_no: str | None


class ChainOut(Struct):
    """One fact through its versions: the original, then each correction, oldest first."""

    chain_id: uuid.UUID
    kind: str
    current_id: uuid.UUID
    current_status: str
    records: list[RecordOut]


class HistoryOut(Struct):
    subject_kind: str
    subject_id: uuid.UUID
    chains: list[ChainOut]


class RowError(Struct):
    line: int
    field: str
    message: str


class ImportReport(Struct):
    kind: str
    mode: str
    confirmed: bool
    rows: int
    rows_stored: int
    rows_rejected: int
    records_stored: int
    record_ids: list[uuid.UUID]
    errors: list[RowError]
