"""What the sync shows over HTTP: platform status for operators, external records."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from msgspec import Struct


class DeadLetterOut(Struct):
    record_id: str
    version: int
    reason: str | None
    attempts: int
    failed_at: datetime | None


class PlatformStatusOut(Struct):
    name: str
    enabled: bool
    record_types: list[str]
    backlog: int  # messages waiting to be sent
    oldest_pending_at: datetime | None
    oldest_pending_age_seconds: float | None
    dead_letters: int  # records the platform rejected, waiting for an operator
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    retry_at: datetime | None  # the lane waits until then (Retry-After, backoff)
    failures: int  # consecutive failed attempts
    pull: bool
    last_pull_at: datetime | None
    last_pull_error: str | None
    recent_dead_letters: list[DeadLetterOut]


class SyncStatusOut(Struct):
    as_of: datetime
    platforms: list[PlatformStatusOut]


class ExternalRecordOut(Struct):
    platform: str
    record_id: str
    version: int
    record_type: str
    action: str
    subject_kind: str
    subject_name: str
    uscc: str | None
    id_number_masked: str | None
    institution_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    effective_from: date | None
    effective_to: date | None
    reason_code: str
    summary: str
    authority: dict[str, object]
    proposed_entry_id: uuid.UUID | None
    received_at: datetime
    updated_at: datetime
