"""Registry tables: institutions, practitioners, employment links.

Records, scores and list entries of later stages point at these rows by
(subject_kind, subject_id), so a subject's identity lives here once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db.columns import (
    id_field,
    name_search_index,
    one_of,
    region_prefix_index,
    timestamp_field,
)


class InstitutionKind(StrEnum):
    RESIDENTIAL = "residential"
    COMMUNITY = "community"
    HOME_CARE = "home_care"


class InstitutionStatus(StrEnum):
    OPERATING = "operating"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class SkillLevel(StrEnum):
    """Caregiver levels of the national occupational skill standard (五级 to 一级)."""

    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    SENIOR = "senior"
    TECHNICIAN = "technician"
    SENIOR_TECHNICIAN = "senior_technician"


class PractitionerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class EmploymentRole(StrEnum):
    CAREGIVER = "caregiver"
    NURSE = "nurse"
    MANAGER = "manager"
    LEGAL_REPRESENTATIVE = "legal_representative"
    RESPONSIBLE_PERSON = "responsible_person"
    OTHER = "other"


class Versioned(SQLModel):
    """The columns ``save_update`` keeps: a version for optimistic locking, and when."""

    version: int = Field(default=1)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Institution(Versioned, table=True):
    __tablename__ = "institutions"
    __table_args__ = (
        one_of("kind", InstitutionKind, "ck_institutions_kind"),
        one_of("status", InstitutionStatus, "ck_institutions_status"),
        sa.CheckConstraint("beds >= 0", name="ck_institutions_beds"),
        region_prefix_index("ix_institutions_region_code"),
        name_search_index("ix_institutions_name_trgm"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    uscc: str = Field(max_length=18, unique=True)
    region_code: str = Field(max_length=6)
    kind: str = Field(max_length=20)
    beds: int = Field(default=0)
    address: str = Field(default="", max_length=300)
    status: str = Field(default=InstitutionStatus.OPERATING.value, max_length=20)


class Practitioner(Versioned, table=True):
    __tablename__ = "practitioners"
    __table_args__ = (
        one_of("status", PractitionerStatus, "ck_practitioners_status"),
        one_of("skill_level", SkillLevel, "ck_practitioners_skill_level", nullable=True),
        region_prefix_index("ix_practitioners_region_code"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=100)
    id_number_hash: str = Field(max_length=64, unique=True)
    id_number_masked: str = Field(max_length=18)
    id_number_encrypted: str = Field(sa_type=sa.Text)
    region_code: str = Field(max_length=6)
    certificate_no: str | None = Field(default=None, max_length=50)
    skill_level: str | None = Field(default=None, max_length=20)
    status: str = Field(default=PractitionerStatus.ACTIVE.value, max_length=20)


class Employment(Versioned, table=True):
    __tablename__ = "employments"
    __table_args__ = (
        one_of("role", EmploymentRole, "ck_employments_role"),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date", name="ck_employments_dates"
        ),
        # Later stages ask "who works here now" and "where does this person work now".
        sa.Index(
            "ix_employments_current_by_practitioner",
            "practitioner_id",
            postgresql_where=sa.text("end_date IS NULL"),
        ),
        sa.Index("ix_employments_institution", "institution_id"),
    )

    id: uuid.UUID = id_field()
    institution_id: uuid.UUID = Field(foreign_key="institutions.id")
    practitioner_id: uuid.UUID = Field(foreign_key="practitioners.id")
    role: str = Field(max_length=30)
    start_date: date
    end_date: date | None = Field(default=None)
    # Set when a reviewer let a practitioner on the black list be employed, and why.
    override_reason: str | None = Field(default=None, max_length=1000)
    override_by: uuid.UUID | None = Field(default=None)
