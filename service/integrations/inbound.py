"""Importing other departments' lists from a platform's changes feed (joint punishment).

Each page of ``/v1/changes`` is imported in one transaction together with the cursor
that follows it, so a crash re-reads at most the page it was on, and a page read
twice changes nothing: an item is stored only if its version is newer than the one
held. Subjects are matched by USCC or, for a person, by the keyed hash of the ID
number (the number itself is never stored). An item whose type the policy names in
``lists.black.external_triggers`` proposes the matched subject for the black list
through the ordinary due process; every other type is kept and shown, not acted on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.actor import Role
from service.context import CommandContext
from service.db.paging import Listing, fetch_page
from service.identity.codes import IdentifierError, normalize_id_number, normalize_uscc
from service.identity.protection import IdNumberVault, mask_id_number, mask_name
from service.integrations.client import PlatformClient
from service.integrations.models import ExternalRecord, SyncPlatform
from service.integrations.platforms import Platform
from service.integrations.protocol import Envelope, decode_as
from service.limits import date_in_range
from service.listing.schemas import ProposalIn
from service.listing.service import propose_unless_open
from service.logs import get_logger
from service.policy.document import ListType, SubjectType
from service.policy.store import policy_now
from service.registry.models import Institution, Practitioner
from service.registry.service import region_scope

log = get_logger(__name__)
PAGE = 500


@dataclass(slots=True)
class PullReport:
    platform: str
    pages: int = 0
    items: int = 0
    imported: int = 0  # new records or new versions
    repeats: int = 0  # a version already held (or older): nothing changed
    malformed: int = 0  # no usable record_id, version or action: skipped and logged
    matched: int = 0
    proposed: int = 0  # black-list proposals made
    error: str | None = None
    skipped: str | None = None  # why nothing was read (the platform is not pulled from)


def _date(value: Any) -> date | None:
    """A platform's date, or None when it is not one or lies outside the accepted range."""
    try:
        day = date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return day if day is not None and date_in_range(day) else None


def _text(value: Any, limit: int) -> str:
    # PostgreSQL text cannot hold NUL: a platform's stray one must not stop the import.
    return str(value or "").replace("\x00", "")[:limit]


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str
    name: str
    uscc: str | None = None
    id_number_hash: str | None = None
    id_number_masked: str | None = None


def _subject(raw: Any, vault: IdNumberVault) -> _Subject:
    """What may be kept of the subject: a person's name masked, the ID number only hashed."""
    subject = raw if isinstance(raw, Mapping) else {}
    kind = str(subject.get("kind") or "")
    if kind == "org":
        try:
            uscc: str | None = normalize_uscc(str(subject.get("uscc") or ""))
        except IdentifierError:
            uscc = None
        return _Subject("org", _text(subject.get("name"), 200), uscc=uscc)
    if kind == "person":
        name = mask_name(_text(subject.get("name"), 100))
        try:
            number = normalize_id_number(str(subject.get("id_number") or ""))
        except IdentifierError:
            return _Subject("person", name)
        return _Subject(
            "person", name, id_number_hash=vault.lookup_hash(number),
            id_number_masked=mask_id_number(number),
        )  # fmt: skip
    return _Subject("unknown", _text(subject.get("name"), 200))


async def _match(
    session: AsyncSession, subject: _Subject
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    if subject.uscc:
        found = await session.scalar(
            sa.select(col(Institution.id)).where(col(Institution.uscc) == subject.uscc)
        )
        return found, None
    if subject.id_number_hash:
        found = await session.scalar(
            sa.select(col(Practitioner.id)).where(
                col(Practitioner.id_number_hash) == subject.id_number_hash
            )
        )
        return None, found
    return None, None


def _sanitised_item(item: Mapping[str, Any], subject: _Subject) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "subject"} | {
        "subject": {"kind": subject.kind, "name": subject.name}
    }


async def import_item(
    session: AsyncSession,
    ctx: CommandContext,
    platform: str,
    item: Any,
    vault: IdNumberVault,
    report: PullReport,
) -> None:
    """Store one feed item if it is new (or a newer version), and act on it once."""
    report.items += 1
    try:
        envelope = decode_as(Envelope, item)
    except msgspec.ValidationError as error:  # the message names the field
        report.malformed += 1
        log.warning("inbound_item_malformed", platform=platform, seq=_seq(item), error=str(error))
        return
    assert isinstance(item, Mapping)
    record_id, version, action = envelope.record_id, envelope.version, envelope.action
    subject = _subject(item.get("subject"), vault)
    institution_id, practitioner_id = await _match(session, subject)
    now = ctx.now()
    values = {
        "platform": platform,
        "record_id": record_id,
        "seq": _seq(item) or 0,
        "version": version,
        "record_type": _text(item.get("record_type"), 40) or "unknown",
        "action": action,
        "subject_kind": subject.kind,
        "subject_name": subject.name,
        "uscc": subject.uscc,
        "id_number_hash": subject.id_number_hash,
        "id_number_masked": subject.id_number_masked,
        "institution_id": institution_id,
        "practitioner_id": practitioner_id,
        "effective_from": _date(item.get("effective_from")),
        "effective_to": _date(item.get("effective_to")),
        "reason_code": _text(item.get("reason_code"), 64),
        "summary": _text(item.get("summary"), 2000),
        "authority": dict(item["authority"]) if isinstance(item.get("authority"), Mapping) else {},
        "item": _sanitised_item(item, subject),
        "received_at": now,
        "updated_at": now,
    }
    statement = insert(ExternalRecord).values(values)
    held = ExternalRecord.__table__.c  # type: ignore[attr-defined]
    upsert = statement.on_conflict_do_update(
        index_elements=["platform", "record_id"],
        set_={
            name: statement.excluded[name]
            for name in values
            if name not in ("platform", "record_id", "received_at")
        },
        where=held.version < statement.excluded.version,
    ).returning(held.record_id)
    if (await session.execute(upsert)).first() is None:
        report.repeats += 1
        return
    report.imported += 1
    if institution_id or practitioner_id:
        report.matched += 1
    if action == "publish":
        await _act(session, ctx, platform, record_id, values, report)


async def _act(
    session: AsyncSession,
    ctx: CommandContext,
    platform: str,
    record_id: str,
    values: dict[str, Any],
    report: PullReport,
) -> None:
    """A matched entry of a type the policy names proposes its subject (once)."""
    policy = await policy_now(session, ctx)
    trigger = policy.lists.black.external_trigger(values["record_type"])
    if trigger is None:
        return
    if values["institution_id"]:
        kind, subject_id = SubjectType.INSTITUTION, values["institution_id"]
    elif values["practitioner_id"]:
        kind, subject_id = SubjectType.PRACTITIONER, values["practitioner_id"]
    else:
        return
    authority = values["authority"].get("name") or platform
    basis = (
        f"{trigger.title_zh}：{authority} {record_id}"
        + (f" ({values['reason_code']})" if values["reason_code"] else "")
        + (f": {values['summary']}" if values["summary"] else "")
    )
    proposal = ProposalIn(
        list_type=ListType.BLACK, subject_kind=kind, subject_id=subject_id,
        reason_code=trigger.code, basis=basis[:2000],
    )  # fmt: skip
    entry = await propose_unless_open(session, ctx, proposal)
    if entry is None:
        return
    report.proposed += 1
    await session.execute(
        sa.update(ExternalRecord)
        .where(col(ExternalRecord.platform) == platform, col(ExternalRecord.record_id) == record_id)
        .values(proposed_entry_id=entry.id)
    )


def _seq(item: Any) -> int | None:
    seq = item.get("seq") if isinstance(item, Mapping) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


async def pull(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    platform: Platform,
    client: PlatformClient,
    vault: IdNumberVault,
    *,
    max_pages: int | None = None,
) -> PullReport:
    """Read the feed from the stored cursor until it is empty (or ``max_pages``); nothing
    from a platform whose ``pull`` is off, whoever asks."""
    report = PullReport(platform.name)
    if not platform.pull:
        report.skipped = "pull = false in the platforms file"
        return report
    while max_pages is None or report.pages < max_pages:
        async with sessions() as session:
            cursor = await session.scalar(
                sa.select(col(SyncPlatform.inbound_cursor)).where(
                    col(SyncPlatform.name) == platform.name
                )
            )
        try:
            page = await client.changes(cursor, PAGE)
        except Exception as error:  # the feed is read again next time from the same cursor
            report.error = f"{type(error).__name__}: {error}"[:500]
            log.warning("inbound_pull_failed", platform=platform.name, error=report.error)
            await _note_pull(sessions, ctx, platform.name, report.error)
            return report
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            report.error = "the changes answer has no items list"
            await _note_pull(sessions, ctx, platform.name, report.error)
            return report
        async with sessions() as session, session.begin():
            held = await session.scalar(
                sa.select(col(SyncPlatform.inbound_cursor))
                .where(col(SyncPlatform.name) == platform.name)
                .with_for_update()
            )
            if held != cursor:
                continue  # another importer took this page meanwhile; read on from its cursor
            for item in items:
                await import_item(session, ctx, platform.name, item, vault, report)
            next_cursor = page.get("next_cursor")
            await session.execute(
                sa.update(SyncPlatform)
                .where(col(SyncPlatform.name) == platform.name)
                .values(
                    inbound_cursor=str(next_cursor)[:200] if next_cursor else cursor,
                    last_pull_at=ctx.now(),
                    last_pull_error=None,
                )
            )
        report.pages += 1
        if not items:
            break
    return report


async def _note_pull(
    sessions: async_sessionmaker[AsyncSession], ctx: CommandContext, name: str, error: str
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            sa.update(SyncPlatform)
            .where(col(SyncPlatform.name) == name)
            .values(last_pull_at=ctx.now(), last_pull_error=error)
        )


async def external_records(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    record_type: str | None,
    matched: bool | None,
    region: str | None,
    page: int,
    page_size: int,
) -> Listing:
    """Imported entries, newest first: a reviewer those of subjects in their region."""
    ctx.actor.require_role(Role.REVIEWER, Role.ADMIN)
    region_code = sa.func.coalesce(col(Institution.region_code), col(Practitioner.region_code))
    query = (
        sa.select(ExternalRecord)
        .outerjoin(Institution, col(Institution.id) == col(ExternalRecord.institution_id))
        .outerjoin(Practitioner, col(Practitioner.id) == col(ExternalRecord.practitioner_id))
    )
    if scope := region_scope(ctx.actor, region):
        query = query.where(region_code.startswith(scope, autoescape=True))
    if record_type:
        query = query.where(col(ExternalRecord.record_type) == record_type)
    if matched is not None:
        is_matched = sa.or_(
            col(ExternalRecord.institution_id).is_not(None),
            col(ExternalRecord.practitioner_id).is_not(None),
        )
        query = query.where(is_matched if matched else sa.not_(is_matched))
    order = [col(ExternalRecord.updated_at).desc(), col(ExternalRecord.record_id)]
    return await fetch_page(session, query, order, page, page_size)
