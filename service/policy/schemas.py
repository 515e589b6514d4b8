"""Response shapes of the policy API."""

from __future__ import annotations

from datetime import date, datetime

from msgspec import Struct


class PolicyVersionOut(Struct):
    version: str
    effective_from: date
    title: str
    sha256: str
    activated_at: datetime
    in_force: bool
