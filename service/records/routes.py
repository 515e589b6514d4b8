"""HTTP routes of records: thin adapters from requests to records.service and friends."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import CHINA_TZ
from service.context import CommandContext
from service.db.replica import Reads
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
from service.web.answers import as_is, tagged
from service.web.dependencies import ACTOR_ALONE
from service.web.endpoints import Endpoint, Option, endpoint_routes, subject_reads
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.openapi import raw_body
from service.web.pagination import Page, Paging
from service.web.params import SECURITY, RegionFilter

RECORDS = "/api/v1/records"
TAGS = ["records"]
Confirm = Annotated[bool, QueryParameter(description="confirm at once instead of leaving a draft")]
KindFilter = FromQuery[RecordKind | None]
StatusFilter = FromQuery[RecordStatus | None]
SubjectFilter = FromQuery[uuid.UUID | None]


def record_out(view: service.RecordView) -> RecordOut:
    record = view.record
    data = record.model_dump()
    data["superseded_by_id"] = view.superseded_by_id
    data["deficiencies"] = view.deficiencies  # read by attribute, as DeficiencyOut
    return msgspec.convert(data, RecordOut, from_attributes=True)


async def _answer(
    _session: AsyncSession, _ctx: CommandContext, view: service.RecordView, status_code: int
) -> Response[RecordOut]:
    return tagged(record_out(view), view.record, status_code, collection=RECORDS)


async def _search(
    session: AsyncSession, ctx: CommandContext, paging: Paging, **where: Any
) -> Page[RecordOut]:
    found = service.RecordFilter(**where)
    views, total = await service.list_records(session, ctx, found, paging.page, paging.page_size)
    return paging.of([record_out(view) for view in views], total)


def _history_of(subject: str) -> Callable[..., Awaitable[HistoryOut]]:
    """Every fact recorded against a subject, each with its chain of corrections."""
    kind = SubjectKind(subject)

    async def history(
        session: AsyncSession, ctx: CommandContext, subject_id: uuid.UUID
    ) -> HistoryOut:
        chains = await service.subject_history(session, ctx, kind, subject_id)
        return HistoryOut(
            subject_kind=kind.value,
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

    return history


ONE = f"{RECORDS}/{{record_id:uuid}}"
THE_RECORD = ("record_id",)
CONFIRM = Option("confirm", Confirm, False)
ENDPOINTS = (
    # Record a fact as a draft (or confirmed at once with ?confirm=true).
    Endpoint(
        RECORDS, service.create_record, RecordIn, _answer, RecordOut, 201, options=(CONFIRM,),
        name="create",
    ),
    Endpoint(
        ONE, service.get_record, None, _answer, RecordOut, targets=THE_RECORD, method="GET",
        name="read",
    ),
    Endpoint(
        RECORDS, _search, None, as_is, Page[RecordOut], method="GET", needs=("paging",),
        options=(
            Option("kind", KindFilter),
            Option("status", StatusFilter),
            Option("region", RegionFilter),
            Option("institution_id", SubjectFilter),
            Option("practitioner_id", SubjectFilter),
        ),
        name="search",
    ),
    # Replace a draft's content (a confirmed record is corrected instead).
    Endpoint(
        ONE, service.replace_draft, RecordIn, _answer, RecordOut, targets=THE_RECORD,
        method="PUT", name="replace",
    ),
    # Discard a draft; confirmed records are never deleted.
    Endpoint(
        ONE, service.delete_draft, None, as_is, None, 204, targets=THE_RECORD, method="DELETE",
        name="discard",
    ),
    # Confirm a draft: from now on it counts and can no longer change.
    Endpoint(
        f"{ONE}/confirm", service.confirm_record, None, _answer, RecordOut, targets=THE_RECORD,
        name="confirm",
    ),
    # Record a correction; once confirmed it supersedes the record it corrects.
    Endpoint(
        f"{ONE}/corrections", service.correct_record, CorrectionIn, _answer, RecordOut, 201,
        targets=THE_RECORD, options=(CONFIRM,), name="correct",
    ),
    # Revoke a confirmed record with a reason (a penalty: reviewers only).
    Endpoint(
        f"{ONE}/revoke", service.revoke_record, RecordRevocationIn, _answer, RecordOut,
        targets=THE_RECORD, name="revoke",
    ),
    # Record when a deficiency of a confirmed inspection was rectified (once).
    Endpoint(
        f"{ONE}/deficiencies/{{deficiency_id:uuid}}/rectification", service.rectify_deficiency,
        RectificationIn, _answer, RecordOut, targets=("record_id", "deficiency_id"),
        name="rectify",
    ),
    *subject_reads("records", _history_of, HistoryOut, name="history"),
)  # fmt: skip


@post(
    f"{RECORDS}/imports",
    status_code=200,
    tags=TAGS,
    security=SECURITY,
    request_max_body_size=MAX_IMPORT_BYTES,
    description=f"A CSV (UTF-8 or GB18030) or XLSX file as the raw body, at most "
    f"{MAX_IMPORT_ROWS} rows; the first row names the columns.",
    opt=raw_body("the spreadsheet", "text/csv", XLSX_MEDIA_TYPE, binary=True),
)
async def import_file(
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


@get("/api/v1/disclosures/penalties", tags=TAGS, security=SECURITY, dependencies=ACTOR_ALONE)
async def penalty_disclosure_export(
    reads: NamedDependency[Reads],
    ctx: NamedDependency[CommandContext],
    since: Since = None,
    region: RegionFilter = None,
    format: FromQuery[ExportFormat] = ExportFormat.JSON,
) -> Response[Any]:
    """Administrative penalties as dual disclosure publishes them (双公示), in JSON, CSV or XLSX."""
    moment = _since(since)

    async def export(session: AsyncSession) -> list[dict[str, Any]]:
        policy = await policy_now(session, ctx)
        return await penalty_disclosures(session, ctx, policy, since=moment, region=region)

    rows = (await reads.run(export)).value
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
    *endpoint_routes(ENDPOINTS, tags=TAGS),
    import_file,
    penalty_disclosure_export,
]
