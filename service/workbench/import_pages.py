"""Uploading a spreadsheet of records (CSV or XLSX), as ``POST /api/v1/records/imports``
does it: the same ``records.importing.import_records``, the same bounds, every bad row
named by its line and column.

The outcome is the upload's idempotent answer, kept 24 hours under the form's key for
its uploader: the upload redirects to ``/staff/imports/<key>``, which reads it back, and
``…/errors.csv`` is the error report to download. A second click (whose multipart body
differs only by its boundary) or a reload lands on the same report; nothing is stored
twice. A file refused whole (unreadable, too large) is answered at the file field.
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote

import msgspec
from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from msgspec import Meta, Struct

from service.clock import CHINA_TZ
from service.errors import DomainError, Invalid, NotFound
from service.facts.kinds import RecordKind
from service.idempotency.store import kept_answer
from service.identity.protection import IdNumberVault
from service.records.import_rows import KindColumns
from service.records.importing import ImportMode, import_records
from service.records.schemas import RowError
from service.tabular import CSV_MEDIA_TYPE, write_csv
from service.upload_limits import MAX_IMPORT_BYTES
from service.web.idempotency import HEADER as IDEMPOTENCY_HEADER
from service.web.idempotency import is_idempotency_key
from service.workbench.form_writes import new_form_key, see_other, write_idempotently
from service.workbench.inspection_common import errors_of, translated_errors
from service.workbench.routes import Desk, read_form, with_lang

IMPORTS = "/staff/imports"
ERROR_REPORT_COLUMNS = ("line", "column", "message")
REPORT_ROWS_SHOWN = 500  # on the page; the CSV report has them all


class ImportOutcome(Struct):
    """What an upload did: stored, or refused with the reason, and every bad row."""

    kind: str
    mode: str
    confirmed: bool
    file_name: Annotated[str, Meta(max_length=255)]
    rows: int | None
    rows_stored: int
    records_stored: int
    errors: list[RowError]
    refused: str | None = None  # why nothing was stored, when nothing was


def _report_path(key: str) -> str:
    return f"{IMPORTS}/{quote(key, safe='')}"


def _columns() -> list[tuple[RecordKind, list[str]]]:
    return [(kind, KindColumns.of(kind).names) for kind in RecordKind]


def _form_page(
    desk: Desk,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[bytes]:
    return desk.page(
        "inspect/import_form.html", status=status,
        values=values or {"kind": "", "mode": ImportMode.BEST_EFFORT.value, "confirm": ""},
        errors=errors or {}, form_key=new_form_key(), kinds=list(RecordKind),
        modes=list(ImportMode), columns=_columns(),
    )  # fmt: skip


@get("/imports")
async def import_form(desk: NamedDependency[Desk]) -> Response[bytes]:
    return _form_page(desk)


@post("/imports", status_code=303, request_max_body_size=MAX_IMPORT_BYTES)
async def import_upload(
    desk: NamedDependency[Desk], vault: NamedDependency[IdNumberVault]
) -> Response[bytes]:
    lang = desk.lang
    # A NUL is dropped here: every field is checked against its choices or the key's pattern.
    values, _ = await read_form(desk.request, ("kind", "mode", "confirm", "idempotency_key"))
    upload = (await desk.request.form()).get("file")
    errors: dict[str, str] = {}
    kind = next((k for k in RecordKind if k.value == values["kind"]), None)
    mode = next((m for m in ImportMode if m.value == values["mode"]), None)
    if kind is None:
        errors["kind"] = "is required"
    if mode is None:
        errors["mode"] = "is required"
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = "is required"
    key = values["idempotency_key"]
    if not is_idempotency_key(key):
        errors["form"] = "the form has no key: reload the page and send it again"
    if errors or kind is None or mode is None or not isinstance(upload, UploadFile):
        return _form_page(desk, values=values, errors=translated_errors(errors, lang), status=422)
    content = await upload.read()
    file_name = (upload.filename or "")[:255]
    confirm = values["confirm"] == "true"

    async def work() -> Response[ImportOutcome]:
        try:
            # Its own savepoint: a refused file leaves nothing behind, and its report
            # is kept as the answer all the same.
            async with desk.session.begin_nested():
                result = await import_records(
                    desk.session, desk.ctx, vault, kind=kind, content=content, mode=mode,
                    confirm=confirm,
                )  # fmt: skip
        except Invalid as error:
            if not any(item.line for item in error.errors):
                raise  # the file as a whole: answered at its field
            row_errors = [
                RowError(item.line or 0, item.field, item.message) for item in error.errors
            ]
            outcome = ImportOutcome(
                kind.value, mode.value, confirm, file_name, None, 0, 0, row_errors, error.detail
            )
            return Response(outcome)
        row_errors = [RowError(p.line, p.column, p.message) for p in result.problems]
        outcome = ImportOutcome(
            kind.value, mode.value, confirm, file_name, result.rows, result.rows_stored,
            len(result.record_ids), row_errors,
        )  # fmt: skip
        return Response(outcome)

    fields = {
        "kind": kind.value, "mode": mode.value, "confirm": str(confirm), "file_name": file_name,
        "file_sha256": hashlib.sha256(content).hexdigest(),
    }  # fmt: skip
    try:
        await write_idempotently(desk, key, work, fields=fields)
    except DomainError as error:
        if any(item.field == IDEMPOTENCY_HEADER for item in error.errors):
            # The same form sent again (a second click): its first sending's report.
            return see_other(with_lang(_report_path(key), lang))
        found = errors_of(error, lang)
        message = found.get("body") or next(iter(found.values()))
        return _form_page(desk, values=values, errors={"file": message}, status=422)
    return see_other(with_lang(_report_path(key), lang))


async def _outcome(desk: Desk, key: str) -> ImportOutcome:
    """The outcome kept under one of the signed-in person's upload keys."""
    owner = desk.staff.actor.user_id
    kept = await kept_answer(desk.session, owner, key, desk.ctx.now()) if owner else None
    if kept is None or kept.path != IMPORTS or kept.method != "POST":
        raise NotFound("no upload of yours has this key (reports are kept 24 hours)")
    try:
        return msgspec.json.decode(kept.answer.body, type=ImportOutcome)
    except msgspec.ValidationError as error:
        raise NotFound("no upload of yours has this key") from error


@get("/imports/{key:str}")
async def import_report(desk: NamedDependency[Desk], key: FromPath[str]) -> Response[bytes]:
    outcome = await _outcome(desk, key)
    return desk.page(
        "inspect/import_report.html", outcome=outcome,
        shown=outcome.errors[:REPORT_ROWS_SHOWN], bad_lines=len({e.line for e in outcome.errors}),
        csv_href=with_lang(_report_path(key) + "/errors.csv", desk.lang),
    )  # fmt: skip


@get("/imports/{key:str}/errors.csv")
async def import_error_report(desk: NamedDependency[Desk], key: FromPath[str]) -> Response[bytes]:
    outcome = await _outcome(desk, key)
    stamp = desk.ctx.now().astimezone(CHINA_TZ).strftime("%Y%m%d-%H%M%S")
    rows = ([error.line, error.field, error.message] for error in outcome.errors)
    return Response(
        write_csv(ERROR_REPORT_COLUMNS, rows),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="import-errors-{outcome.kind}-{stamp}.csv"'
        },
    )


IMPORT_PAGES: list[HTTPRouteHandler] = [
    import_form,
    import_upload,
    import_report,
    import_error_report,
]
