"""Request and response shapes of the lists API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from msgspec import Meta, Struct

from service.listing.machine import EntryStatus
from service.listing.models import DocumentKind
from service.policy.document import ListType, SubjectType
from service.validation import NO_NUL, DatedBody

Text = Annotated[str, Meta(min_length=1, max_length=2000, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
Document = Annotated[
    str,
    Meta(min_length=1, max_length=200, pattern=NO_NUL, description="the basis document number"),
]
ReasonCode = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]


class ProposalIn(Struct, forbid_unknown_fields=True, kw_only=True):
    list_type: ListType
    subject_kind: SubjectType
    subject_id: uuid.UUID
    reason_code: ReasonCode
    basis: Text


class StepIn(Struct, forbid_unknown_fields=True, kw_only=True):
    """A step that needs no more than its basis and a comment (notify, publish, withdraw)."""

    basis_document: Document | None = None
    comment: LongText | None = None


class ObjectionIn(DatedBody, forbid_unknown_fields=True, kw_only=True):
    filed_by_name: Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]
    statement: Annotated[str, Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
    evidence: LongText = ""
    received_on: date | None = None  # the day the objection reached the authority; default today


class ObjectionDecisionIn(Struct, forbid_unknown_fields=True, kw_only=True):
    uphold: bool
    resolution: Text
    basis_document: Document | None = None


class DecisionIn(Struct, forbid_unknown_fields=True, kw_only=True):
    list: bool  # true: list the subject; false: dismiss the proposal
    comment: Text
    basis_document: Document


class EntryRevocationIn(Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Text
    basis_document: Document


class RepairIn(Struct, forbid_unknown_fields=True, kw_only=True):
    evidence: Annotated[str, Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
    obligations_fulfilled: bool
    public_commitment: LongText


class RepairDecisionIn(Struct, forbid_unknown_fields=True, kw_only=True):
    approve: bool
    comment: Text


class TransitionOut(Struct):
    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_id: uuid.UUID | None
    actor_role: str
    occurred_at: datetime
    rule: str
    basis_document: str | None
    comment: str | None


class ObjectionOut(Struct):
    id: uuid.UUID
    filed_on: date
    filed_by_name: str
    statement: str
    status: str
    resolution: str | None
    resolved_at: datetime | None


class NoticeOut(Struct):
    id: uuid.UUID
    document: str
    objection_deadline: date
    created_at: datetime
    delivered_at: datetime | None


class DocumentOut(Struct):
    """A document written to the subject: the prior notice or a decision, as sent."""

    id: uuid.UUID
    kind: DocumentKind
    title: str
    document_no: str | None
    created_at: datetime
    delivered_at: datetime | None
    objection_deadline: date | None  # the notice's last day to object (included)
    against_the_subject: bool  # a decision that states the remedies
    document: str


class RepairOut(Struct):
    id: uuid.UUID
    entry_id: uuid.UUID
    filed_on: date
    obligations_fulfilled: bool
    public_commitment: str
    status: str
    unmet: list[str]
    reviewed_at: datetime | None
    comment: str | None


class MeasureOut(Struct):
    code: str
    zh: str
    en: str
    basis: str


class EntryOut(Struct):
    id: uuid.UUID
    list_type: str
    subject_kind: str
    subject_id: uuid.UUID
    region_code: str
    status: EntryStatus
    allowed_actions: list[str]
    reason_code: str
    basis: str
    trigger_record_id: uuid.UUID | None
    proposed_by: uuid.UUID | None
    proposed_at: datetime | None
    notified_at: datetime | None
    objection_deadline: date | None
    deadline_by_fallback: bool
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    publish_by: date | None
    effective_from: date | None
    effective_to: date | None
    published_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    measures: list[MeasureOut]
    version: int


class EntryDetailOut(Struct):
    entry: EntryOut
    transitions: list[TransitionOut]
    objections: list[ObjectionOut]
    notices: list[NoticeOut]  # the prior notices (also among the documents)
    documents: list[DocumentOut]  # every document to the subject, oldest first
    repair_applications: list[RepairOut]
