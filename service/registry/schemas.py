"""Request and response shapes of the registry API (msgspec: strict, fast, documented)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from service.registry.models import (
    InstitutionKind,
    InstitutionStatus,
    PractitionerStatus,
    SkillLevel,
)
from service.validation import NO_NUL, PersonName

InstitutionName = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Code = Annotated[
    str, Meta(min_length=1, max_length=40, description="validated by its check character")
]
RegionCode = Annotated[str, Meta(pattern=r"^[0-9]{6}$", description="6-digit GB/T 2260 code")]
Beds = Annotated[int, Meta(ge=0, le=100_000)]
Address = Annotated[str, Meta(max_length=300, pattern=NO_NUL)]
CertificateNo = Annotated[str, Meta(min_length=1, max_length=50, pattern=NO_NUL)]


class InstitutionCreate(Struct, forbid_unknown_fields=True):
    name: InstitutionName
    uscc: Code
    region_code: RegionCode
    kind: InstitutionKind
    beds: Beds = 0
    address: Address = ""
    status: InstitutionStatus = InstitutionStatus.OPERATING


class InstitutionUpdate(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: InstitutionName | UnsetType = UNSET
    region_code: RegionCode | UnsetType = UNSET
    kind: InstitutionKind | UnsetType = UNSET
    beds: Beds | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    status: InstitutionStatus | UnsetType = UNSET


class InstitutionOut(Struct):
    id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    kind: str
    beds: int
    address: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class PractitionerCreate(Struct, forbid_unknown_fields=True):
    name: PersonName
    id_number: Code
    region_code: RegionCode
    certificate_no: CertificateNo | None = None
    skill_level: SkillLevel | None = None
    status: PractitionerStatus = PractitionerStatus.ACTIVE


class PractitionerUpdate(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: PersonName | UnsetType = UNSET
    region_code: RegionCode | UnsetType = UNSET
    certificate_no: CertificateNo | UnsetType | None = UNSET
    skill_level: SkillLevel | UnsetType | None = UNSET
    status: PractitionerStatus | UnsetType = UNSET


class PractitionerOut(Struct):
    """A practitioner as staff see one: the ID number only in its masked form."""

    id: uuid.UUID
    name: str
    id_number_masked: str
    region_code: str
    certificate_no: str | None
    skill_level: str | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


def changes_of(update: Struct) -> dict[str, object]:
    """The fields a PATCH body actually set, enums as their values."""
    return {
        name: value.value if hasattr(value, "value") else value
        for name, value in msgspec.structs.asdict(update).items()
        if value is not UNSET
    }
