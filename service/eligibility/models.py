"""Signed eligibility decisions, kept as they were decided (issue 15 §3).

One row per decision a caller asked to have signed (``signed=true``): what was decided,
for whom, as of when and under which policy, by which key, and the SHA-256 of the
signed payload, so that a JWS someone presents can be matched to this row. No personal
data: an institution is named by its USCC, a practitioner only by the keyed hash of the
ID number and its masked form, never the number.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from service.db.columns import timestamp_field


class EligibilityDecision(SQLModel, table=True):
    __tablename__ = "eligibility_decisions"

    id: uuid.UUID = Field(primary_key=True)
    issued_at: datetime = timestamp_field()
    program: str = Field(max_length=64)
    as_of: date
    policy_version: str = Field(max_length=40)
    subject_kind: str = Field(max_length=16)
    # The USCC, or the keyed hash (HMAC-SHA256, hex) of the practitioner's ID number.
    subject_ref: str = Field(max_length=64)
    id_number_masked: str | None = Field(default=None, max_length=40)
    eligible: bool
    review: bool
    reasons: list[str] = Field(sa_type=ARRAY(sa.String(64)))
    grade: str = Field(max_length=2)
    effective_stars: int | None = Field(default=None, sa_type=sa.SmallInteger)
    key_id: str = Field(max_length=64)
    # Hex, of the JWS payload's bytes. A presented JWS is matched by the decision id in its
    # payload (the primary key) and then this digest: no other index to slow the COPY.
    payload_sha256: str = Field(max_length=64)
