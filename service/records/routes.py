"""HTTP routes of records: thin adapters from requests to records.service and friends."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import CHINA_TZ
from service.context import CommandContext
from service.errors import Invalid
from service.facts.kinds import RecordKind, RecordStatus, SubjectKind
from service.identity.protection import IdNumberVault
from service.limits import DATE_RANGE_MESSAGE, date_in_range
from service.policy.store import policy_now
from service.records import service
from service.records.disclosure import COLUMN_KEYS, penalty_disclosures
from service.records.importing import ImportMode, import_records
from service.records.schemas import (
    ChainOut,
    CorrectionIn,
    DeficiencyOut,
    HistoryOut,
    ImportReport,
    RecordIn,
    RecordOut,
    RecordRevocationIn,
    RectificationIn,
    RowError,
)
from service.tabular import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, write_csv, write_xlsx
from service.upload_limits import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from service.web.etags import etag, expected_version
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.openapi import raw_body
from service.web.pagination import Page, PageNumber, PageSize
from service.web.params import SECURITY, IfMatch, RegionFilter

Confirm = Annotated[bool, QueryParameter(description="confirm at once instead of leaving a draft")]


def record_out(view: service.RecordView) -> RecordOut:
    record = view.record
    data = record.model_dump()
    data["superseded_by_id"] = view.superseded_by_id
    data["deficiencies"] = [
        DeficiencyOut(
            id=d.id,
            position=d.position,
            item=d.item,
            code=d.code,
            severity=d.severity,
            scope=d.scope,
            rectification_deadline=d.rectification_deadline,
            rectified_on=d.rectified_on,
            rectified_in_time=d.rectified_in_time,
            rectification_recorded_at=d.rectification_recorded_at,
            rectification_note=d.rectification_note,
        )
        for d in view.deficiencies
    ]
    return msgspec.convert(data, RecordOut, from_attributes=True)


def _answer(view: service.RecordView, status_code: int = 200) -> Response[RecordOut]:
    headers = {"ETag": etag(view.record.version)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/records/{view.record.id}"
    return Response(record_out(view), status_code=status_code, headers=headers)


class RecordController(Controller):
    path = "/api/v1/records"
    tags = ["records"]
    security = SECURITY

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecordIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        confirm: Confirm = False,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RecordOut]:
        """Record a fact as a draft (or confirmed at once with ?confirm=true)."""

        async def work() -> Response[RecordOut]:
            view = await service.create_record(db_session, ctx, data, confirm=confirm)
            return _answer(view, 201)

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @get("/{record_id:uuid}")
    async def read(
        self,
        record_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
    ) -> Response[RecordOut]:
        return _answer(await service.get_record(db_session, ctx, record_id))

    @get("/")
    async def search(
        self,
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        kind: FromQuery[RecordKind | None] = None,
        status: FromQuery[RecordStatus | None] = None,
        region: RegionFilter = None,
        institution_id: FromQuery[uuid.UUID | None] = None,
        practitioner_id: FromQuery[uuid.UUID | None] = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Page[RecordOut]:
        where = service.RecordFilter(kind, status, region, institution_id, practitioner_id)
        views, total = await service.list_records(db_session, ctx, where, page, page_size)
        return Page(
            items=[record_out(v) for v in views], page=page, page_size=page_size, total=total
        )

    @put("/{record_id:uuid}")
    async def replace(
        self,
        record_id: FromPath[uuid.UUID],
        data: JSONBody[RecordIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        if_match: IfMatch = None,
    ) -> Response[RecordOut]:
        """Replace a draft's content (a confirmed record is corrected instead)."""
        view = await service.replace_draft(
            db_session, ctx, record_id, data, expected_version(if_match)
        )
        return _answer(view)

    @delete("/{record_id:uuid}", status_code=204)
    async def discard(
        self,
        record_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        if_match: IfMatch = None,
    ) -> None:
        """Discard a draft; confirmed records are never deleted."""
        await service.delete_draft(db_session, ctx, record_id, expected_version(if_match))

    @post("/{record_id:uuid}/confirm", status_code=200)
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        record_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RecordOut]:
        """Confirm a draft: from now on it counts and can no longer change."""

        async def work() -> Response[RecordOut]:
            return _answer(await service.confirm_record(db_session, ctx, record_id))

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @post("/{record_id:uuid}/corrections", status_code=201)
    async def correct(
        self,
        request: Request[Any, Any, Any],
        record_id: FromPath[uuid.UUID],
        data: JSONBody[CorrectionIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        confirm: Confirm = False,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RecordOut]:
        """Record a correction; once confirmed it supersedes the record it corrects."""

        async def work() -> Response[RecordOut]:
            view = await service.correct_record(db_session, ctx, record_id, data, confirm=confirm)
            return _answer(view, 201)

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @post("/{record_id:uuid}/revoke", status_code=200)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        record_id: FromPath[uuid.UUID],
        data: JSONBody[RecordRevocationIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RecordOut]:
        """Revoke a confirmed record with a reason (a penalty: reviewers only)."""

        async def work() -> Response[RecordOut]:
            return _answer(await service.revoke_record(db_session, ctx, record_id, data))

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @post("/{record_id:uuid}/deficiencies/{deficiency_id:uuid}/rectification", status_code=200)
    async def rectify(
        self,
        request: Request[Any, Any, Any],
        record_id: FromPath[uuid.UUID],
        deficiency_id: FromPath[uuid.UUID],
        data: JSONBody[RectificationIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RecordOut]:
        """Record when a deficiency of a confirmed inspection was rectified (once)."""

        async def work() -> Response[RecordOut]:
            view = await service.rectify_deficiency(db_session, ctx, record_id, deficiency_id, data)
            return _answer(view)

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @post(
        "/imports",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
        description=f"A CSV (UTF-8 or GB18030) or XLSX file as the raw body, at most "
        f"{MAX_IMPORT_ROWS} rows; the first row names the columns.",
        opt=raw_body("the spreadsheet", "text/csv", XLSX_MEDIA_TYPE, binary=True),
    )
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        vault: NamedDependency[IdNumberVault],
        kind: FromQuery[RecordKind],
        mode: FromQuery[ImportMode] = ImportMode.BEST_EFFORT,
        confirm: Confirm = False,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[ImportReport]:
        """Import an inspector's spreadsheet; every bad row is named by line and column."""

        async def work() -> Response[ImportReport]:
            result = await import_records(
                db_session,
                ctx,
                vault,
                kind=kind,
                content=await request.body(),
                mode=mode,
                confirm=confirm,
            )
            report = ImportReport(
                kind=kind.value,
                mode=mode.value,
                confirmed=confirm,
                rows=result.rows,
                rows_stored=result.rows_stored,
                rows_rejected=len({problem.line for problem in result.problems}),
                records_stored=len(result.record_ids),
                record_ids=result.record_ids,
                errors=[RowError(p.line, p.column, p.message) for p in result.problems],
            )
            return Response(report, status_code=200)

        return await idempotent(request, db_session, ctx, idempotency_key, work)


def _history(
    subject: SubjectKind, subject_id: uuid.UUID, chains: list[service.Chain]
) -> HistoryOut:
    return HistoryOut(
        subject_kind=subject.value,
        subject_id=subject_id,
        chains=[
            ChainOut(
                chain_id=chain.chain_id,
                kind=chain.current.record.kind,
                current_id=chain.current.record.id,
                current_status=chain.current.record.status,
                records=[record_out(view) for view in chain.records],
            )
            for chain in chains
        ],
    )


@get("/api/v1/institutions/{institution_id:uuid}/records", tags=["records"], security=SECURITY)
async def institution_history(
    institution_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> HistoryOut:
    """Every fact recorded against an institution, each with its chain of corrections."""
    subject = SubjectKind.INSTITUTION
    chains = await service.subject_history(db_session, ctx, subject, institution_id)
    return _history(subject, institution_id, chains)


@get("/api/v1/practitioners/{practitioner_id:uuid}/records", tags=["records"], security=SECURITY)
async def practitioner_history(
    practitioner_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> HistoryOut:
    """Every fact recorded against a practitioner, each with its chain of corrections."""
    subject = SubjectKind.PRACTITIONER
    chains = await service.subject_history(db_session, ctx, subject, practitioner_id)
    return _history(subject, practitioner_id, chains)


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


Since = Annotated[
    str | None,
    QueryParameter(
        max_length=40,
        description="a date (YYYY-MM-DD, China time) or an ISO 8601 moment: list the penalties "
        "published or withdrawn from then on; without it, the penalties published now",
    ),
]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise Invalid.field("since", "must be a date (2026-11-01) or an ISO 8601 moment") from error
    moment = moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
    if not date_in_range(moment):
        raise Invalid.field("since", DATE_RANGE_MESSAGE)
    return moment


@get("/api/v1/disclosures/penalties", tags=["records"], security=SECURITY)
async def penalty_disclosure_export(
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    since: Since = None,
    region: RegionFilter = None,
    format: FromQuery[ExportFormat] = ExportFormat.JSON,
) -> Response[Any]:
    """Administrative penalties as dual disclosure publishes them (双公示), in JSON, CSV or XLSX."""
    moment = _since(since)
    policy = await policy_now(db_session, ctx)
    rows = await penalty_disclosures(db_session, ctx, policy, since=moment, region=region)
    now = ctx.now()
    if format == ExportFormat.JSON:
        body = {"generated_at": now, "since": moment, "columns": COLUMN_KEYS, "items": rows}
        return Response(body)
    table = ([row[key] for key in COLUMN_KEYS] for row in rows)
    stamp = now.astimezone(CHINA_TZ).strftime("%Y%m%d-%H%M%S")
    filename = f"penalty-disclosures-{stamp}.{format.value}"
    if format == ExportFormat.CSV:
        content, media_type = write_csv(COLUMN_KEYS, table), CSV_MEDIA_TYPE
    else:
        content, media_type = write_xlsx(COLUMN_KEYS, table, "penalties"), XLSX_MEDIA_TYPE
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


ROUTES: list[ControllerRouterHandler] = [
    RecordController,
    institution_history,
    practitioner_history,
    penalty_disclosure_export,
]
