"""Dual disclosure (双公示) of administrative penalties: what is published, from when, until when.

A confirmed penalty is published from its confirmation, unless all its kinds are
exempt by policy (a warning alone is never published). It is withdrawn at the
earliest of: its revocation (a penalty overturned on review), its correction (the
correction is published in its place), and the day after its publication end date.
A feed without ``since`` is the snapshot of what is published now; with ``since`` it
lists every penalty whose state changed from then on, published or withdrawn, so a
portal that mirrors it can apply the changes in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import STAFF_ROLES
from service.clock import local_date, start_of_local_day
from service.context import CommandContext
from service.facts.details import PenaltyDetails, penalty_details
from service.facts.kinds import RecordKind, RecordStatus
from service.identity.protection import mask_name
from service.policy.document import Policy
from service.records.models import Record
from service.registry.models import Institution, Practitioner
from service.registry.service import region_scope


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label_zh: str


# The standard field set of an administrative-penalty disclosure, in export order.
DISCLOSURE_COLUMNS: tuple[Column, ...] = (
    Column("record_id", "信用信息编号"),
    Column("disclosure_status", "公示状态"),
    Column("changed_at", "状态变更时间"),
    Column("withdrawal_reason", "撤销公示原因"),
    Column("subject_name", "行政相对人名称"),
    Column("subject_kind", "行政相对人类别"),
    Column("uscc", "统一社会信用代码"),
    Column("id_number_masked", "证件号码（脱敏）"),
    Column("decision_no", "行政处罚决定书文号"),
    Column("violation_type", "违法行为类型"),
    Column("violation_facts", "违法事实"),
    Column("legal_basis", "处罚依据"),
    Column("penalty_kinds", "处罚类别"),
    Column("content", "处罚内容"),
    Column("fine_amount", "罚款金额（元）"),
    Column("confiscated_amount", "没收违法所得、没收非法财物的金额（元）"),
    Column("licence_affected", "暂扣或吊销证照名称及编号"),
    Column("decision_date", "处罚决定日期"),
    Column("valid_until", "处罚有效期"),
    Column("publication_end_date", "公示截止期"),
    Column("authority_name", "处罚机关"),
    Column("authority_uscc", "处罚机关统一社会信用代码"),
    Column("data_source", "数据来源单位"),
    Column("data_source_uscc", "数据来源单位统一社会信用代码"),
    Column("region_code", "行政区划代码"),
)
COLUMN_KEYS = tuple(column.key for column in DISCLOSURE_COLUMNS)


class DisclosureStatus(StrEnum):
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class WithdrawalReason(StrEnum):
    REVOKED = "revoked"
    CORRECTED = "corrected"
    PUBLICATION_ENDED = "publication_ended"


class PartyKind(StrEnum):
    LEGAL_PERSON = "legal_person"  # 法人及非法人组织
    NATURAL_PERSON = "natural_person"  # 自然人


@dataclass(frozen=True, slots=True)
class Party:
    """The penalised party as it may be published: a person only masked."""

    kind: PartyKind
    name: str
    uscc: str | None = None
    id_number_masked: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    published_at: datetime
    withdrawn_at: datetime
    reason: WithdrawalReason


def publication_window(record: Record, penalty: PenaltyDetails, policy: Policy) -> Window | None:
    """When a penalty (the record and its details) is published and withdrawn; None if it
    is never published."""
    if record.kind != RecordKind.PENALTY or record.confirmed_at is None:
        return None
    if not policy.disclosure.is_published(frozenset(penalty.penalty_kinds)):
        return None
    end = penalty.publication_ends_on
    endings = [(start_of_local_day(end + timedelta(days=1)), WithdrawalReason.PUBLICATION_ENDED)]
    if record.superseded_at is not None:
        endings.append((record.superseded_at, WithdrawalReason.CORRECTED))
    if record.revoked_at is not None:
        endings.append((record.revoked_at, WithdrawalReason.REVOKED))
    withdrawn_at, reason = min(endings)
    if withdrawn_at <= record.confirmed_at:
        return None  # recorded after its publication period was already over
    return Window(record.confirmed_at, withdrawn_at, reason)


def disclosed_now(
    record: Record, penalty: PenaltyDetails, policy: Policy, now: datetime
) -> Window | None:
    """The record's window if it is published at ``now``, else None."""
    window = publication_window(record, penalty, policy)
    if window is None or not (window.published_at <= now < window.withdrawn_at):
        return None
    return window


def penalty_fields(record: Record, penalty: PenaltyDetails) -> dict[str, Any]:
    """What a penalty discloses of itself, in export order: the standard field set without
    the party and the feed's bookkeeping. The export row and the platforms' penalty record
    both carry exactly these."""
    return {
        "decision_no": record.document_no,
        "violation_type": penalty.violation_type,
        "violation_facts": penalty.violation_facts,
        "legal_basis": record.legal_basis,
        "penalty_kinds": ";".join(penalty.penalty_kinds),
        "content": penalty.content,
        "fine_amount": _text(penalty.fine_amount),
        "confiscated_amount": _text(penalty.confiscated_amount),
        "licence_affected": penalty.licence_affected,
        "decision_date": record.occurred_on.isoformat(),
        "valid_until": _text(penalty.valid_until),
        "publication_end_date": penalty.publication_ends_on.isoformat(),
        "authority_name": penalty.authority_name,
        "authority_uscc": penalty.authority_uscc,
        "data_source": penalty.data_source or penalty.authority_name,
        "data_source_uscc": penalty.data_source_uscc or penalty.authority_uscc,
        "region_code": record.region_code,
    }


def _text(value: Decimal | date | None) -> str | None:
    """An amount or a date as the details store it (JSONB text), or None."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def disclosure_row(
    record: Record, penalty: PenaltyDetails, party: Party, window: Window, now: datetime
) -> dict[str, Any] | None:
    """The row a feed shows for a penalty at ``now``; None before it is published."""
    if now < window.published_at:
        return None
    withdrawn = window.withdrawn_at <= now
    return {
        "record_id": str(record.id),
        "disclosure_status": (
            DisclosureStatus.WITHDRAWN if withdrawn else DisclosureStatus.PUBLISHED
        ).value,
        "changed_at": window.withdrawn_at if withdrawn else window.published_at,
        "withdrawal_reason": window.reason.value if withdrawn else None,
        "subject_name": party.name,
        "subject_kind": party.kind.value,
        "uscc": party.uscc,
        "id_number_masked": party.id_number_masked,
        **penalty_fields(record, penalty),
    }


def select_rows(
    penalties: Iterable[tuple[Record, Party]],
    policy: Policy,
    now: datetime,
    since: datetime | None,
) -> list[dict[str, Any]]:
    """The snapshot (no ``since``) or the changes since a moment, oldest change first."""
    rows = []
    for record, party in penalties:
        penalty = penalty_details(record.details)
        window = publication_window(record, penalty, policy)
        if window is None:
            continue
        row = disclosure_row(record, penalty, party, window, now)
        if row is None:
            continue
        if since is None:
            if row["disclosure_status"] != DisclosureStatus.PUBLISHED:
                continue
        elif window.published_at < since and row["changed_at"] < since:
            continue
        rows.append(row)
    return sorted(rows, key=lambda row: (row["changed_at"], row["record_id"]))


def _party(
    institution_name: str | None,
    uscc: str | None,
    person_name: str | None,
    id_number_masked: str | None,
) -> Party:
    if institution_name is not None:
        return Party(PartyKind.LEGAL_PERSON, institution_name, uscc=uscc)
    return Party(
        PartyKind.NATURAL_PERSON, mask_name(person_name or ""), id_number_masked=id_number_masked
    )


async def penalty_disclosures(
    session: AsyncSession,
    ctx: CommandContext,
    policy: Policy,
    *,
    since: datetime | None,
    region: str | None,
) -> list[dict[str, Any]]:
    ctx.actor.require_role(*STAFF_ROLES)
    now = ctx.now()
    publication_end = col(Record.details)["publication_end_date"].astext
    query = (
        sa.select(
            Record,
            col(Institution.name),
            col(Institution.uscc),
            col(Practitioner.name),
            col(Practitioner.id_number_masked),
        )
        .outerjoin(Institution, col(Institution.id) == col(Record.institution_id))
        .outerjoin(Practitioner, col(Practitioner.id) == col(Record.practitioner_id))
        .where(col(Record.kind) == RecordKind.PENALTY, col(Record.status) != RecordStatus.DRAFT)
    )
    if scope := region_scope(ctx.actor, region):
        query = query.where(col(Record.region_code).startswith(scope, autoescape=True))
    if since is None:
        query = query.where(
            col(Record.status) == RecordStatus.CONFIRMED,
            publication_end >= local_date(now).isoformat(),
        )
    else:
        # A coarse filter on indexed moments; select_rows applies the exact rule.
        ended_since = (local_date(since) - timedelta(days=1)).isoformat()
        query = query.where(
            sa.or_(
                col(Record.confirmed_at) >= since,
                col(Record.superseded_at) >= since,
                col(Record.revoked_at) >= since,
                publication_end.between(ended_since, local_date(now).isoformat()),
            )
        )
    result = await session.execute(query)
    penalties = [
        (record, _party(name, uscc, person, masked))
        for record, name, uscc, person, masked in result
    ]
    return select_rows(penalties, policy, now, since)
