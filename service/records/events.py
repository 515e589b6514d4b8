"""Events a record raises when it changes what is derived from it.

Each names every subject whose derived state (score, lists, disclosures) may have
changed, so a subscriber need not load the record to know whom to recompute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from service.events import DomainEvent
from service.facts.kinds import RecordKind, SubjectKind

SubjectKey = tuple[SubjectKind, uuid.UUID]


@dataclass(frozen=True, slots=True)
class RecordEvent(DomainEvent):
    record_id: uuid.UUID
    kind: RecordKind
    subjects: tuple[SubjectKey, ...]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class RecordConfirmed(RecordEvent):
    """A new fact now counts."""


@dataclass(frozen=True, slots=True)
class RecordCorrected(RecordEvent):
    """``record_id`` now counts in place of ``replaced_id``, which no longer does."""

    replaced_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class RecordRevoked(RecordEvent):
    """The fact no longer counts (overturned on review, entered in error)."""

    reason: str


@dataclass(frozen=True, slots=True)
class DeficiencyRectified(RecordEvent):
    deficiency_id: uuid.UUID
