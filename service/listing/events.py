"""Events a list entry raises as it moves, for what derives from lists (outbox, public view)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from service.events import DomainEvent
from service.listing.machine import Action
from service.listing.models import ListEntry


@dataclass(frozen=True, slots=True)
class ListEntryChanged(DomainEvent):
    entry_id: uuid.UUID
    list_type: str
    subject_kind: str
    subject_id: uuid.UUID
    action: Action
    status: str
    occurred_at: datetime

    @classmethod
    def of(cls, entry: ListEntry, action: Action, now: datetime) -> ListEntryChanged:
        return cls(
            entry.id, entry.list_type, entry.subject_kind, entry.subject_id, action,
            entry.status, now,
        )  # fmt: skip
