"""The inspectors' pages (issue 13): find a subject in one's region, read its page (registry
facts, staff, records as correction chains, credit with every point explained, stars,
lists), log an inspection as a draft on a phone, confirm it after seeing what follows,
and record a rectification.

The pages hold no rules. Every read and write calls the domain functions the API calls
(registry, records, standing, listing), as the signed-in person, so their role and region
walls, checks, audit and events are the API's. Two things are the pages' own:

- Each write runs in a savepoint of the request's transaction. A refused form rolls
  back all it began (its idempotency claim and queued audit rows included) and the page
  that answers with the errors still commits the rest (the session's last-seen time).
- Each rendered form carries its own idempotency key, passed to the API's ``idempotent``:
  a double click or a resubmitted form replays the first answer (a redirect) and creates
  nothing twice; a refused form stored nothing, so its corrected copy goes through.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from msgspec import Struct
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.engine import DEFICIENCY_CODE, Contribution
from service.credit.star_ratings import star_ratings
from service.employment.service import list_employments
from service.errors import DomainError, Invalid
from service.facts.details import DeficiencyIn, InspectionDetails
from service.facts.kinds import (
    DeficiencyScope,
    DeficiencySeverity,
    InspectionType,
    RecordKind,
    RecordStatus,
    SubjectKind,
)
from service.identity.protection import IdNumberVault
from service.limits import DATE_RANGE_MESSAGE, dates_out_of_range
from service.listing.machine import OPEN
from service.listing.service import list_entries
from service.records.schemas import InspectionIn, RecordBase, RectificationIn
from service.records.service import (
    RecordView,
    confirm_record,
    create_record,
    delete_draft,
    get_record,
    rectify_deficiency,
    replace_draft,
    subject_history,
)
from service.registry.service import (
    find_subjects,
    get_institution,
    get_practitioner,
    subjects_by_id,
)
from service.standing.view import Standing, standing_of
from service.web.idempotency import idempotent
from service.workbench.i18n import translated, words
from service.workbench.inspection_words import CHINESE_FIELD_MESSAGES
from service.workbench.routes import language, page, workbench_router
from service.workbench.session import SignedIn

HTML = "text/html; charset=utf-8"
NUL = "\x00"
SEARCH_LIMIT = 20
MAX_SEARCH_TERM = 100
MAX_DEFICIENCY_ROWS = 200  # the API's bound on an inspection's deficiencies
LIST_ENTRIES_SHOWN = 50
# An idempotency key as the API's header takes it: 1-255 visible ASCII characters.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
INSPECTORS_SEPARATORS = re.compile(r"[、,，;；\n]+")

TOP_FIELDS = (
    "occurred_on",
    "details.inspection_type",
    "details.inspectors",
    "details.summary",
    "document_no",
    "legal_basis",
)
ROW_FIELDS = ("item", "severity", "scope", "rectification_deadline")
ENVELOPE_FIELDS = ("occurred_on", "document_no", "legal_basis")


def _with_lang(path: str, lang: str, **query: str | int) -> str:
    return f"{path}?{urlencode({'lang': lang, **query})}"


def see_other(location: str) -> Response[bytes]:
    """A 303 whose Location is a plain header, so the idempotency store keeps and replays it."""
    return Response(b"", status_code=303, media_type=HTML, headers={"Location": location})


def new_form_key() -> str:
    return str(uuid.uuid4())


async def _write(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    key: str,
    work: Callable[[], Awaitable[Response[Any]]],
) -> Response[Any]:
    """Run a page's write as the API would (idempotent on the form's key), in a savepoint:
    a refusal raises out of it, leaving nothing of the attempt behind."""
    async with session.begin_nested():
        return await idempotent(
            request, session, ctx, key if KEY_PATTERN.match(key) else None, work
        )


async def _read_form(
    request: Request[Any, Any, Any], names: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The named fields as text ("" when absent), and an error for any holding a NUL
    (PostgreSQL text cannot): the value is kept without it, to show the form again."""
    form = await request.form()
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in names:
        raw = form.get(name)
        text = raw if isinstance(raw, str) else ""
        if NUL in text:
            errors[name] = "must not contain the NUL character"
            text = text.replace(NUL, "")
        values[name] = text
    return values, errors


# --- finding a subject -------------------------------------------------------------------


@get("/subjects")
async def find_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    vault: NamedDependency[IdNumberVault],
    staff: NamedDependency[SignedIn],
) -> Response[bytes]:
    term = (request.query_params.get("q") or "")[:MAX_SEARCH_TERM].strip()
    found = await find_subjects(db_session, ctx, vault, term, limit=SEARCH_LIMIT)
    return page(request, "inspect/find.html", staff=staff, term=term, found=found)


# --- a subject's page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListHistoryRow:
    entry_id: uuid.UUID
    list_type: str
    status: str
    reason: str
    proposed_at: str
    period: str


def _reason_title(standing: Standing, list_type: str, code: str, lang: str) -> str:
    """A list reason's title from the policy, in the page's language; the code if unknown."""
    reason = standing.policy.lists.of(list_type).proposal_reasons().get(code)
    return reason.title(lang) if reason else code


async def _list_history(
    session: AsyncSession, ctx: CommandContext, standing: Standing, lang: str
) -> list[ListHistoryRow]:
    entries, _ = await list_entries(
        session, ctx, list_type=None, status=None, region=None, subject_id=standing.subject_id,
        page=1, page_size=LIST_ENTRIES_SHOWN,
    )  # fmt: skip
    return [
        ListHistoryRow(
            entry.id,
            entry.list_type,
            entry.status,
            _reason_title(standing, entry.list_type, entry.reason_code, lang),
            entry.proposed_at.date().isoformat() if entry.proposed_at else "",
            " – ".join(
                day.isoformat() for day in (entry.effective_from, entry.effective_to) if day
            ),
        )
        for entry in entries
        if entry.subject_kind == standing.subject_kind
    ]


def _deficiency_items(chains: Sequence[Any]) -> dict[str, dict[str, str]]:
    """Each deficiency's item, severity and scope by its id, to explain its points."""
    return {
        str(deficiency.id): {
            "item": deficiency.item, "severity": deficiency.severity, "scope": deficiency.scope,
        }
        for chain in chains
        for view in chain.records
        for deficiency in view.deficiencies
    }  # fmt: skip


async def _subject_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    staff: SignedIn,
    kind: SubjectKind,
    subject_id: uuid.UUID,
    *,
    status: int = 200,
    rectify_errors: dict[str, str] | None = None,
) -> Response[bytes]:
    lang = language(request)
    if kind == SubjectKind.INSTITUTION:
        subject: Any = await get_institution(session, ctx, subject_id)
        employments = await list_employments(
            session, ctx, institution_id=subject_id, current_only=True
        )
        _, people = await subjects_by_id(session, [], [e.practitioner_id for e in employments])
        employed = [
            (e, people[e.practitioner_id].name, f"/staff/practitioners/{e.practitioner_id}")
            for e in employments
        ]
        ratings = await star_ratings(session, ctx, subject_id)
    else:
        subject = await get_practitioner(session, ctx, subject_id)
        employments = await list_employments(
            session, ctx, practitioner_id=subject_id, current_only=True
        )
        places, _ = await subjects_by_id(session, [e.institution_id for e in employments], [])
        employed = [
            (e, places[e.institution_id].name, f"/staff/institutions/{e.institution_id}")
            for e in employments
        ]
        ratings = []
    standing = await standing_of(session, ctx, kind, subject_id, None)
    chains = await subject_history(session, ctx, kind, subject_id)
    return page(
        request, "inspect/subject.html", status=status, staff=staff, kind=kind.value,
        subject=subject, employed=employed, ratings=ratings, standing=standing,
        assessment=standing.assessment, chains=chains, items=_deficiency_items(chains),
        in_force=[(e, _reason_title(standing, e.list_type, e.reason_code, lang)) for e in standing.lists],
        list_history=await _list_history(session, ctx, standing, lang),
        notice=request.query_params.get("notice"), rectify_errors=rectify_errors or {},
        form_key=new_form_key, deficiency_code=DEFICIENCY_CODE, score=_score,
    )  # fmt: skip


@get("/institutions/{institution_id:uuid}")
async def institution_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    institution_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    return await _subject_page(
        request, db_session, ctx, staff, SubjectKind.INSTITUTION, institution_id
    )


@get("/practitioners/{practitioner_id:uuid}")
async def practitioner_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    practitioner_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    return await _subject_page(
        request, db_session, ctx, staff, SubjectKind.PRACTITIONER, practitioner_id
    )


# --- the inspection form -------------------------------------------------------------------


@dataclass
class InspectionForm:
    """What the form shows: its values by field name (the API's paths, so the API's errors
    land on their fields) and its deficiency rows."""

    values: dict[str, str]
    rows: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def blank(cls, ctx: CommandContext, staff: SignedIn) -> InspectionForm:
        return cls({name: "" for name in TOP_FIELDS} | {
            "occurred_on": ctx.today().isoformat(), "details.inspectors": staff.name,
        })  # fmt: skip

    @classmethod
    def of_draft(cls, view: RecordView) -> InspectionForm:
        record, details = view.record, view.record.details
        values = {
            "occurred_on": record.occurred_on.isoformat(),
            "details.inspection_type": str(details.get("inspection_type", "")),
            "details.inspectors": "、".join(details.get("inspectors", [])),
            "details.summary": str(details.get("summary", "")),
            "document_no": record.document_no or "",
            "legal_basis": record.legal_basis or "",
        }
        rows = [
            {
                "item": d.item,
                "severity": d.severity,
                "scope": d.scope,
                "rectification_deadline": d.rectification_deadline.isoformat()
                if d.rectification_deadline
                else "",
            }
            for d in view.deficiencies
        ]
        return cls(values, rows)

    def with_blank_rows(self, count: int) -> InspectionForm:
        blank = {name: "" for name in ROW_FIELDS}
        return InspectionForm(self.values, self.rows + [dict(blank) for _ in range(count)])


@dataclass(frozen=True, slots=True)
class Posted:
    form: InspectionForm
    errors: dict[str, str]
    action: str
    key: str
    version: int


def _bounded_int(text: str, upper: int) -> int:
    return min(int(text), upper) if text.isdigit() and len(text) < 10 else 0


async def _posted(request: Request[Any, Any, Any]) -> Posted:
    head, errors = await _read_form(
        request, (*TOP_FIELDS, "rows", "action", "idempotency_key", "version")
    )
    count = _bounded_int(head["rows"], MAX_DEFICIENCY_ROWS)
    names = [f"deficiencies[{i}].{name}" for i in range(count) for name in ROW_FIELDS]
    cells, cell_errors = await _read_form(request, names)
    rows = [{name: cells[f"deficiencies[{i}].{name}"] for name in ROW_FIELDS} for i in range(count)]
    form = InspectionForm({name: head[name] for name in TOP_FIELDS}, rows)
    version = _bounded_int(head["version"], 2**31 - 1)
    return Posted(form, errors | cell_errors, head["action"], head["idempotency_key"], version)


def _check_fields(
    values: dict[str, Any], shape: type[Struct], prefix: str, errors: dict[str, str]
) -> None:
    """Each value against its field's type in the API's shape, so every field's problem is
    found at once, in the API's words (it stops at the first)."""
    for info in msgspec.structs.fields(shape):
        name = prefix + info.name
        if info.name not in values:
            if info.required:
                errors.setdefault(name, "is required")
            continue
        try:
            value = msgspec.convert(values[info.name], info.type, strict=False)
        except msgspec.ValidationError as error:
            errors.setdefault(name, str(error).partition(" - at `")[0])
            continue
        if dates_out_of_range(value):
            errors.setdefault(name, DATE_RANGE_MESSAGE)


def _present(values: dict[str, str]) -> dict[str, Any]:
    """The filled-in fields: an empty optional field is left out, as an API client would."""
    return {name: value.strip() for name, value in values.items() if value.strip()}


@dataclass(frozen=True, slots=True)
class Built:
    body: InspectionIn | None
    errors: dict[str, str]
    row_of: list[int]  # the form row of each deficiency in the body
    empty_rows: int


def build_inspection(form: InspectionForm, institution_id: uuid.UUID) -> Built:
    """The API's body from the form, or the errors by field; rows left empty are skipped."""
    errors: dict[str, str] = {}
    envelope = _present({name: form.values[name] for name in ENVELOPE_FIELDS})
    _check_fields(envelope, RecordBase, "", errors)
    details: dict[str, Any] = _present({
        "inspection_type": form.values["details.inspection_type"],
        "summary": form.values["details.summary"],
    })  # fmt: skip
    inspectors = [
        name.strip()
        for name in INSPECTORS_SEPARATORS.split(form.values["details.inspectors"])
        if name.strip()
    ]
    if inspectors:
        details["inspectors"] = inspectors
    _check_fields(details, InspectionDetails, "details.", errors)
    deficiencies: list[dict[str, Any]] = []
    row_of: list[int] = []
    for index, row in enumerate(form.rows):
        filled = _present(row)
        if not filled:
            continue
        _check_fields(filled, DeficiencyIn, f"deficiencies[{index}].", errors)
        deficiencies.append(filled)
        row_of.append(index)
    empty_rows = len(form.rows) - len(row_of)
    if errors:
        return Built(None, errors, row_of, empty_rows)
    body = {
        "kind": RecordKind.INSPECTION.value, "institution_id": str(institution_id), **envelope,
        "details": details, "deficiencies": deficiencies,
    }  # fmt: skip
    try:
        return Built(msgspec.convert(body, InspectionIn, strict=False), {}, row_of, empty_rows)
    except msgspec.ValidationError as error:
        return Built(None, {"form": str(error)}, row_of, empty_rows)


ROW_PATH = re.compile(r"^deficiencies\[(\d+)\]")


def _on_form_rows(errors: dict[str, str], row_of: list[int]) -> dict[str, str]:
    """The API names a deficiency by its place in the body; the form by its row."""

    def row_name(name: str) -> str:
        found = ROW_PATH.match(name)
        if found is None or int(found.group(1)) >= len(row_of):
            return name
        return f"deficiencies[{row_of[int(found.group(1))]}]" + name[found.end() :]

    return {row_name(name): message for name, message in errors.items()}


def _say(message: str, lang: str) -> str:
    """An API message about a field in the page's language, where it is known."""
    if lang == "zh":
        for pattern, chinese in CHINESE_FIELD_MESSAGES:
            if found := pattern.match(message):
                return chinese.format(**found.groupdict())
    return translated(message, lang)


def _translated(errors: dict[str, str], lang: str) -> dict[str, str]:
    return {name: _say(message, lang) for name, message in errors.items()}


def _errors_of(error: DomainError, lang: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors:
        found.setdefault(item.field, _say(item.message, lang))
    return found or {"form": _say(error.detail, lang)}


FIELD_LABELS = {
    "occurred_on": "field_occurred_on",
    "details.inspection_type": "field_inspection_type",
    "details.inspectors": "field_inspectors",
    "details.summary": "field_summary",
    "document_no": "field_document_no",
    "legal_basis": "field_legal_basis",
    "item": "field_item",
    "severity": "field_severity",
    "scope": "field_scope",
    "rectification_deadline": "field_deadline",
}


def _label_of(lang: str) -> Callable[[str], str]:
    """The label of a field the API names, for the error summary ("Deficiency 3 · Severity")."""
    t = words(lang)

    def label(name: str) -> str:
        if found := ROW_PATH.match(name):
            row = t["deficiency_n"].format(n=int(found.group(1)) + 1)
            rest = name[found.end() :].lstrip(".")
            return f"{row} · {t[FIELD_LABELS[rest]]}" if rest in FIELD_LABELS else row
        return t[FIELD_LABELS[name]] if name in FIELD_LABELS else name

    return label


def _form_page(
    request: Request[Any, Any, Any],
    staff: SignedIn,
    institution: Any,
    form: InspectionForm,
    *,
    action: str,
    title_key: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
    version: int | None = None,
    record_id: uuid.UUID | None = None,
) -> Response[bytes]:
    return page(
        request, "inspect/inspection_form.html", status=status, staff=staff,
        institution=institution, form=form, errors=errors or {}, action=action,
        title_key=title_key, version=version, record_id=record_id, form_key=new_form_key(),
        inspection_types=list(InspectionType), severities=list(DeficiencySeverity),
        scopes=list(DeficiencyScope), saved=request.query_params.get("saved") == "1",
        label_of=_label_of(language(request)),
    )  # fmt: skip


@get("/institutions/{institution_id:uuid}/inspections/new")
async def new_inspection_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    institution_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    institution = await get_institution(db_session, ctx, institution_id)
    lang = language(request)
    return _form_page(
        request, staff, institution, InspectionForm.blank(ctx, staff),
        action=_with_lang(f"/staff/institutions/{institution_id}/inspections", lang),
        title_key="inspection_new_title",
    )  # fmt: skip


def _after_save(
    record_id: uuid.UUID, subject_path: str, action: str, empty_rows: int, lang: str
) -> str:
    """Where a saved draft goes next: the confirmation step, or the draft with a new row."""
    if action == "review":
        return _with_lang(f"/staff/records/{record_id}/confirm", lang)
    if action == "discard":
        return subject_path
    blank = empty_rows + 1 if action == "add" else 0
    return _with_lang(f"/staff/records/{record_id}/edit", lang, saved=1, blank=blank)


def _without_removed(posted: Posted) -> InspectionForm:
    """The form without the row whose remove button was pressed (``remove-<row>``)."""
    if not posted.action.startswith("remove-"):
        return posted.form
    row = _bounded_int(posted.action.removeprefix("remove-"), MAX_DEFICIENCY_ROWS)
    rows = [r for index, r in enumerate(posted.form.rows) if index != row]
    return InspectionForm(posted.form.values, rows)


@post("/institutions/{institution_id:uuid}/inspections", status_code=303)
async def create_inspection(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    institution_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    lang = language(request)
    institution = await get_institution(db_session, ctx, institution_id)
    posted = await _posted(request)
    form = _without_removed(posted)
    built = build_inspection(form, institution_id)
    errors = posted.errors | built.errors
    if built.body is not None and not errors:
        body = built.body

        async def work() -> Response[bytes]:
            view = await create_record(db_session, ctx, body, confirm=False)
            subject_path = _with_lang(f"/staff/institutions/{institution_id}", lang)
            return see_other(
                _after_save(view.record.id, subject_path, posted.action, built.empty_rows, lang)
            )

        try:
            return await _write(request, db_session, ctx, posted.key, work)
        except DomainError as error:
            errors = _on_form_rows(_errors_of(error, lang), built.row_of)
    return _form_page(
        request, staff, institution, form, status=422,
        errors=_translated(errors, lang),
        action=_with_lang(f"/staff/institutions/{institution_id}/inspections", lang),
        title_key="inspection_new_title",
    )  # fmt: skip


async def _inspection_draft(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID
) -> tuple[RecordView, Any]:
    view = await get_record(session, ctx, record_id)
    if view.record.kind != RecordKind.INSPECTION or view.record.institution_id is None:
        raise Invalid(f"record {record_id} is a {view.record.kind}, not an inspection")
    institution = await get_institution(session, ctx, view.record.institution_id)
    return view, institution


def _not_a_draft(request: Request[Any, Any, Any], view: RecordView) -> Response[bytes]:
    lang = language(request)
    return see_other(
        _with_lang(f"/staff/institutions/{view.record.institution_id}", lang, notice="not_a_draft")
    )


@get("/records/{record_id:uuid}/edit")
async def edit_inspection_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    record_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    view, institution = await _inspection_draft(db_session, ctx, record_id)
    if view.record.status != RecordStatus.DRAFT:
        return _not_a_draft(request, view)
    blank = _bounded_int(request.query_params.get("blank") or "", 20)
    form = InspectionForm.of_draft(view).with_blank_rows(blank)
    return _form_page(
        request, staff, institution, form, version=view.record.version, record_id=record_id,
        action=_with_lang(f"/staff/records/{record_id}/edit", language(request)),
        title_key="inspection_edit_title",
    )  # fmt: skip


@post("/records/{record_id:uuid}/edit", status_code=303)
async def save_inspection(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    record_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    lang = language(request)
    _, institution = await _inspection_draft(db_session, ctx, record_id)
    subject_path = _with_lang(f"/staff/institutions/{institution.id}", lang)
    posted = await _posted(request)
    form = _without_removed(posted)
    built = build_inspection(form, institution.id)
    errors = dict(posted.errors)
    if posted.action == "discard":

        async def discard() -> Response[bytes]:
            await delete_draft(db_session, ctx, record_id, posted.version)
            return see_other(subject_path)

        try:
            return await _write(request, db_session, ctx, posted.key, discard)
        except DomainError as error:
            errors |= _errors_of(error, lang)
    else:
        errors |= built.errors
    if built.body is not None and not errors:
        body = built.body

        async def work() -> Response[bytes]:
            await replace_draft(db_session, ctx, record_id, body, posted.version)
            return see_other(
                _after_save(record_id, subject_path, posted.action, built.empty_rows, lang)
            )

        try:
            return await _write(request, db_session, ctx, posted.key, work)
        except DomainError as error:
            errors = _on_form_rows(_errors_of(error, lang), built.row_of)
    return _form_page(
        request, staff, institution, form, status=422, errors=_translated(errors, lang),
        version=posted.version, record_id=record_id,
        action=_with_lang(f"/staff/records/{record_id}/edit", lang),
        title_key="inspection_edit_title",
    )  # fmt: skip


# --- confirming: what follows ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectChange:
    name: str
    before_score: str
    before_grade: str
    after_score: str
    after_grade: str


@dataclass(frozen=True, slots=True)
class Proposal:
    list_type: str
    reason: str


@dataclass(frozen=True, slots=True)
class WhatFollows:
    changes: list[SubjectChange]
    points: list[Contribution]
    proposals: list[Proposal]


def _score(value: Any) -> str:
    return f"{value.normalize():f}"


async def _open_entries(
    session: AsyncSession, ctx: CommandContext, subject_id: uuid.UUID
) -> dict[uuid.UUID, tuple[str, str, str]]:
    entries, _ = await list_entries(
        session, ctx, list_type=None, status=None, region=None, subject_id=subject_id,
        page=1, page_size=LIST_ENTRIES_SHOWN,
    )  # fmt: skip
    return {
        entry.id: (entry.list_type, entry.reason_code, entry.subject_kind)
        for entry in entries
        if entry.status in {status.value for status in OPEN}
    }


async def what_follows(
    session: AsyncSession, ctx: CommandContext, view: RecordView, lang: str
) -> WhatFollows:
    """What confirming this draft would do, found by doing it: the real confirmation with
    every step after it (rescoring, the policy's list triggers) runs in a savepoint that is
    then rolled back, so the preview cannot drift from the rules (there is no second copy
    of them). Only plain values leave the savepoint; the session is emptied after it, as
    rows loaded in it are stale."""
    record = view.record
    record_id = record.id
    keys = [
        (kind, subject_id)
        for kind, subject_id in (
            (SubjectKind.INSTITUTION, record.institution_id),
            (SubjectKind.PRACTITIONER, record.practitioner_id),
        )
        if subject_id is not None
    ]
    before = {key: await standing_of(session, ctx, key[0], key[1], None) for key in keys}
    open_before = {key: await _open_entries(session, ctx, key[1]) for key in keys}
    savepoint = await session.begin_nested()
    try:
        await confirm_record(session, ctx, record_id)
        after = {key: await standing_of(session, ctx, key[0], key[1], None) for key in keys}
        open_after = {key: await _open_entries(session, ctx, key[1]) for key in keys}
    finally:
        await savepoint.rollback()
        session.expunge_all()
    changes: list[SubjectChange] = []
    points: list[Contribution] = []
    proposals: list[Proposal] = []
    for key in keys:
        old, new = before[key].assessment, after[key].assessment
        changes.append(
            SubjectChange(
                before[key].name, _score(old.score), old.grade, _score(new.score), new.grade
            )
        )
        points.extend(part for part in new.contributions if part.record_id == record_id)
        for entry_id, (list_type, reason_code, kind) in open_after[key].items():
            if entry_id not in open_before[key] and kind == key[0]:
                reason = _reason_title(after[key], list_type, reason_code, lang)
                proposals.append(Proposal(list_type, reason))
    return WhatFollows(changes, points, proposals)


@get("/records/{record_id:uuid}/confirm")
async def confirm_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    record_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    return await _confirm_page(request, db_session, ctx, staff, record_id)


async def _confirm_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    staff: SignedIn,
    record_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[bytes]:
    lang = language(request)
    view, institution = await _inspection_draft(session, ctx, record_id)
    if view.record.status != RecordStatus.DRAFT:
        return _not_a_draft(request, view)
    # Plain values first: what_follows empties the session.
    name, record = institution.name, msgspec.structs.asdict(_RecordSummary.of(view))
    institution_id = view.record.institution_id
    follows = await what_follows(session, ctx, view, lang)
    return page(
        request, "inspect/confirm.html", status=status, staff=staff, name=name, record=record,
        follows=follows, errors=errors or {}, form_key=new_form_key(), record_id=record_id,
        institution_id=institution_id, deficiency_code=DEFICIENCY_CODE,
        items={d["id"]: d for d in record["deficiencies"]}, score=_score,
    )  # fmt: skip


class _RecordSummary(Struct):
    occurred_on: str
    inspection_type: str
    inspectors: list[str]
    summary: str
    deficiencies: list[dict[str, str]]

    @classmethod
    def of(cls, view: RecordView) -> _RecordSummary:
        details = view.record.details
        return cls(
            view.record.occurred_on.isoformat(),
            str(details.get("inspection_type", "")),
            [str(name) for name in details.get("inspectors", [])],
            str(details.get("summary", "")),
            [
                {
                    "id": str(d.id), "item": d.item, "severity": d.severity, "scope": d.scope,
                    "deadline": d.rectification_deadline.isoformat() if d.rectification_deadline else "",
                }
                for d in view.deficiencies
            ],
        )  # fmt: skip


@post("/records/{record_id:uuid}/confirm", status_code=303)
async def confirm_submit(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    record_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    lang = language(request)
    fields, _ = await _read_form(request, ("idempotency_key",))

    async def work() -> Response[bytes]:
        view = await confirm_record(db_session, ctx, record_id)
        return see_other(
            _with_lang(
                f"/staff/institutions/{view.record.institution_id}", lang, notice="confirmed"
            )
        )

    try:
        return await _write(request, db_session, ctx, fields["idempotency_key"], work)
    except DomainError as error:
        return await _confirm_page(
            request, db_session, ctx, staff, record_id, errors=_errors_of(error, lang), status=409
        )


# --- rectification --------------------------------------------------------------------------


@post("/records/{record_id:uuid}/deficiencies/{deficiency_id:uuid}/rectification", status_code=303)
async def rectify_submit(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
    record_id: FromPath[uuid.UUID],
    deficiency_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    lang = language(request)
    view = await get_record(db_session, ctx, record_id)
    subject = view.record.institution_id or view.record.practitioner_id
    kind = SubjectKind.INSTITUTION if view.record.institution_id else SubjectKind.PRACTITIONER
    fields, errors = await _read_form(request, ("rectified_on", "note", "idempotency_key"))
    field_id = f"rectify-{deficiency_id}"
    values = _present({"rectified_on": fields["rectified_on"], "note": fields["note"]})
    checked: dict[str, str] = {}
    _check_fields(values, RectificationIn, "", checked)
    if errors or checked:
        message = next(iter((errors | checked).values()))
        return await _rectify_refused(
            request, db_session, ctx, staff, kind, subject, field_id, message
        )
    rectification = msgspec.convert(values, RectificationIn, strict=False)

    async def work() -> Response[bytes]:
        await rectify_deficiency(db_session, ctx, record_id, deficiency_id, rectification)
        return see_other(_with_lang(f"/staff/{kind.value}s/{subject}", lang, notice="rectified"))

    try:
        return await _write(request, db_session, ctx, fields["idempotency_key"], work)
    except DomainError as error:
        message = next(iter(_errors_of(error, lang).values()))
        return await _rectify_refused(
            request, db_session, ctx, staff, kind, subject, field_id, message
        )


async def _rectify_refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    staff: SignedIn,
    kind: SubjectKind,
    subject_id: uuid.UUID | None,
    field_id: str,
    message: str,
) -> Response[bytes]:
    assert subject_id is not None
    lang = language(request)
    return await _subject_page(
        request, session, ctx, staff, kind, subject_id, status=422,
        rectify_errors={field_id: _say(message, lang)},
    )  # fmt: skip


INSPECTION_PAGES: list[HTTPRouteHandler] = [
    find_page,
    institution_page,
    practitioner_page,
    new_inspection_page,
    create_inspection,
    edit_inspection_page,
    save_inspection,
    confirm_page,
    confirm_submit,
    rectify_submit,
]
INSPECTION_ROUTER = workbench_router(INSPECTION_PAGES)
