"""Request and response shapes of employment links."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from service.registry.models import EmploymentRole
from service.validation import NO_NUL, DatedBody


class EmploymentCreate(DatedBody, forbid_unknown_fields=True):
    institution_id: uuid.UUID
    practitioner_id: uuid.UUID
    role: EmploymentRole
    start_date: date
    end_date: date | None = None
    # A reviewer's reason to employ a practitioner who is on the black list anyway.
    override_reason: Annotated[str, Meta(min_length=1, max_length=1000, pattern=NO_NUL)] | None = (
        None
    )


class EmploymentUpdate(DatedBody, forbid_unknown_fields=True, omit_defaults=True):
    role: EmploymentRole | UnsetType = UNSET
    end_date: date | UnsetType | None = UNSET


class EmploymentOut(Struct):
    id: uuid.UUID
    institution_id: uuid.UUID
    practitioner_id: uuid.UUID
    role: str
    start_date: date
    end_date: date | None
    version: int
    override_reason: str | None = None
