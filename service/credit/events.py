"""Events the credit domain raises for what derives from it (the public view)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service.events import DomainEvent


@dataclass(frozen=True, slots=True)
class StarRatingRecorded(DomainEvent):
    institution_id: uuid.UUID
