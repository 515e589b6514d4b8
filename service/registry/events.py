"""Events the registry raises, so rules of later stages can apply without the registry
knowing them (a practitioner on the black list may not be employed in care)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service.events import DomainEvent


@dataclass(frozen=True, slots=True)
class EmploymentStarting(DomainEvent):
    """About to link a practitioner to an institution; a subscriber may refuse it."""

    institution_id: uuid.UUID
    practitioner_id: uuid.UUID
    override_reason: str | None


@dataclass(frozen=True, slots=True)
class SubjectChanged(DomainEvent):
    """An institution or practitioner was registered or its particulars changed."""

    subject_kind: str  # "institution" or "practitioner"
    subject_id: uuid.UUID
