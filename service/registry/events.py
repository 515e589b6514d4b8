"""Events the registry raises, so what derives from a subject (synced records, the public
view) follows its changes without the registry knowing them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service.events import DomainEvent


@dataclass(frozen=True, slots=True)
class SubjectChanged(DomainEvent):
    """An institution or practitioner was registered or its particulars changed."""

    subject_kind: str  # "institution" or "practitioner"
    subject_id: uuid.UUID
