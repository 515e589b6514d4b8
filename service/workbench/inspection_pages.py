"""The inspectors' pages (issue 13): find a subject in one's region, read its page (registry
facts, staff, records as correction chains, credit with every point explained, stars,
lists), log an inspection as a draft on a phone, confirm it after seeing what follows,
and record a rectification.

The pages hold no rules. Every read and write calls the domain functions the API calls
(registry, records, standing, listing), as the signed-in person, so their role and region
walls, checks, audit and events are the API's; each write is idempotent on its form's
key and runs in a savepoint (``inspection_common``). Form fields are named by the API's
paths (``details.inspectors``, ``deficiencies[2].severity``), so the API's errors land on
their fields.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.engine import DEFICIENCY_CODE
from service.credit.star_ratings import star_ratings
from service.employment.service import list_employments
from service.errors import DomainError
from service.facts.details import DeficiencyIn, InspectionDetails, read_details
from service.facts.kinds import (
    DeficiencyScope,
    DeficiencySeverity,
    InspectionType,
    RecordKind,
    RecordStatus,
    SubjectKind,
)
from service.identity.protection import IdNumberVault
from service.listing.service import list_entries
from service.policy.document import Policy
from service.policy.store import policy_now
from service.records.schemas import (
    CorrectionIn,
    InspectionIn,
    RecordBase,
    RecordRevocationIn,
    RectificationIn,
)
from service.records.service import (
    RecordView,
    confirm_record,
    correct_record,
    create_record,
    get_record,
    rectify_deficiency,
    replace_draft,
    revoke_record,
    subject_history,
)
from service.registry.service import (
    find_subjects,
    get_institution,
    get_practitioner,
    subjects_by_id,
)
from service.standing.view import Standing, standing_of
from service.workbench import record_pages
from service.workbench.form_writes import new_form_key, see_other, write_idempotently
from service.workbench.i18n import words
from service.workbench.import_pages import IMPORT_PAGES
from service.workbench.inspection_common import (
    CORRECTION_REASON,
    LIST_ENTRIES_SHOWN,
    MAX_VERSION,
    bounded_int,
    checked_reason,
    discard_or_show_again,
    draft_form_page,
    errors_of,
    for_each_subject,
    next_step,
    of_the_correction,
    reason_title,
    rule_titles,
    save_or_show_again,
    score_text,
    what_follows,
)
from service.workbench.record_forms import check_fields, displayed, present, values_of_record
from service.workbench.routes import Desk, read_form, with_lang, workbench_router
from service.workbench.session import SignedIn

SEARCH_LIMIT = 20
MAX_SEARCH_TERM = 100
MAX_DOCUMENT_NO = 100  # the API's bound on a document number
MAX_DEFICIENCY_ROWS = 200  # the API's bound on an inspection's deficiencies
INSPECTORS_SEPARATORS = re.compile(r"[、,，;；\n]+")

TOP_FIELDS = (
    "occurred_on",
    "details.inspection_type",
    "details.inspectors",
    "details.summary",
    "document_no",
    "legal_basis",
)
DEADLINE = "rectification_deadline"
SEVERITIES = frozenset(severity.value for severity in DeficiencySeverity)
ROW_FIELDS = ("item", "severity", "scope", DEADLINE)
ENVELOPE_FIELDS = ("occurred_on", "document_no", "legal_basis")


@get("/subjects")
async def find_page(
    desk: NamedDependency[Desk],
    vault: NamedDependency[IdNumberVault],
) -> Response[bytes]:
    term = (desk.request.query_params.get("q") or "")[:MAX_SEARCH_TERM].strip()
    found = await find_subjects(desk.session, desk.ctx, vault, term, limit=SEARCH_LIMIT)
    return desk.page("inspect/find.html", term=term, found=found)


# --- a subject's page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListHistoryRow:
    entry_id: uuid.UUID
    list_type: str
    status: str
    reason: str
    proposed_at: str
    period: str


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
            reason_title(standing, entry.list_type, entry.reason_code, lang),
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


CHAIN_FACTS_SHOWN = 4


def _chain_facts(chains: Sequence[Any], lang: str) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """What each fact other than an inspection says (its first fields), to read its chain."""
    t = words(lang)
    return {
        chain.chain_id: displayed(kind, values_of_record(chain.current.record), t)[
            :CHAIN_FACTS_SHOWN
        ]
        for chain in chains
        if (kind := RecordKind(chain.current.record.kind)) != RecordKind.INSPECTION
    }


async def _subject_page(
    desk: Desk,
    kind: SubjectKind,
    subject_id: uuid.UUID,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response[bytes]:
    session, ctx, lang = desk.session, desk.ctx, desk.lang
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
    return desk.page(
        "inspect/subject.html", status=status, kind=kind.value,
        subject=subject, employed=employed, ratings=ratings, standing=standing,
        assessment=standing.assessment, chains=chains, items=_deficiency_items(chains),
        in_force=[(e, reason_title(standing, e.list_type, e.reason_code, lang)) for e in standing.lists],
        list_history=await _list_history(session, ctx, standing, lang),
        notice=desk.request.query_params.get("notice"), form_errors=errors or {},
        form_key=new_form_key, deficiency_code=DEFICIENCY_CODE, score=score_text,
        record_kinds=record_pages.kinds_for(kind), chain_facts=_chain_facts(chains, lang),
        rule_titles=rule_titles(standing.policy, lang),
    )  # fmt: skip


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
        record, details = view.record, inspection_details(view.record.details)
        values = {
            "occurred_on": record.occurred_on.isoformat(),
            "details.inspection_type": details.inspection_type.value,
            "details.inspectors": "、".join(details.inspectors),
            "details.summary": details.summary,
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


def inspection_details(stored: dict[str, Any]) -> InspectionDetails:
    """A stored inspection's details, read through their struct (as every reader does)."""
    details = read_details(RecordKind.INSPECTION, stored)
    assert isinstance(details, InspectionDetails)
    return details


async def _posted(desk: Desk) -> Posted:
    head, errors = await read_form(
        desk.request, (*TOP_FIELDS, "rows", "action", "idempotency_key", "version")
    )
    count = bounded_int(head["rows"], MAX_DEFICIENCY_ROWS)
    names = [f"deficiencies[{i}].{name}" for i in range(count) for name in ROW_FIELDS]
    cells, cell_errors = await read_form(desk.request, names)
    rows = [{name: cells[f"deficiencies[{i}].{name}"] for name in ROW_FIELDS} for i in range(count)]
    form = InspectionForm({name: head[name] for name in TOP_FIELDS}, rows)
    version = bounded_int(head["version"], MAX_VERSION)
    return Posted(form, errors | cell_errors, head["action"], head["idempotency_key"], version)


@dataclass(frozen=True, slots=True)
class Built:
    body: InspectionIn | None
    errors: dict[str, str]
    row_of: list[int]  # the form row of each deficiency in the body
    empty_rows: int

    def on_form_rows(self, errors: dict[str, str]) -> dict[str, str]:
        """The API names a deficiency by its place in the body; the form by its row."""

        def row_name(name: str) -> str:
            found = ROW_PATH.match(name)
            if found is None or int(found.group(1)) >= len(self.row_of):
                return name
            return f"deficiencies[{self.row_of[int(found.group(1))]}]" + name[found.end() :]

        return {row_name(name): message for name, message in errors.items()}


def build_inspection(form: InspectionForm, institution_id: uuid.UUID) -> Built:
    """The API's body from the form, or the errors by field; rows left empty are skipped."""
    errors: dict[str, str] = {}
    envelope = present({name: form.values[name] for name in ENVELOPE_FIELDS})
    check_fields(envelope, RecordBase, "", errors)
    detail_fields: dict[str, Any] = present({
        "inspection_type": form.values["details.inspection_type"],
        "summary": form.values["details.summary"],
    })  # fmt: skip
    inspectors = [
        name.strip()
        for name in INSPECTORS_SEPARATORS.split(form.values["details.inspectors"])
        if name.strip()
    ]
    if inspectors:
        detail_fields["inspectors"] = inspectors
    check_fields(detail_fields, InspectionDetails, "details.", errors)
    deficiencies: list[dict[str, Any]] = []
    row_of: list[int] = []
    for index, row in enumerate(form.rows):
        filled = present(row)
        if not filled:
            continue
        check_fields(filled, DeficiencyIn, f"deficiencies[{index}].", errors)
        deficiencies.append(filled)
        row_of.append(index)
    empty_rows = len(form.rows) - len(row_of)
    if errors:
        return Built(None, errors, row_of, empty_rows)
    body = {
        "kind": RecordKind.INSPECTION.value, "institution_id": str(institution_id), **envelope,
        "details": detail_fields, "deficiencies": deficiencies,
    }  # fmt: skip
    try:
        return Built(msgspec.convert(body, InspectionIn, strict=False), {}, row_of, empty_rows)
    except msgspec.ValidationError as error:
        return Built(None, {"form": str(error)}, row_of, empty_rows)


ROW_PATH = re.compile(r"^deficiencies\[(\d+)\]")


FIELD_LABELS = {
    CORRECTION_REASON: "correction_reason",
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


async def _form_page(
    desk: Desk, institution: Any, form: InspectionForm, *, title_key: str, **draft: Any
) -> Response[bytes]:
    return draft_form_page(
        desk, "inspect/inspection_form.html", institution=institution, form=form,
        title_key=title_key, inspection_types=list(InspectionType),
        severities=list(DeficiencySeverity), scopes=list(DeficiencyScope),
        label_of=_label_of(desk.lang), **draft,
    )  # fmt: skip


@get("/institutions/{institution_id:uuid}/inspections/new")
async def new_inspection_page(
    desk: NamedDependency[Desk], institution_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    institution = await get_institution(desk.session, desk.ctx, institution_id)
    lang = desk.lang
    return await _form_page(
        desk, institution, InspectionForm.blank(desk.ctx, desk.staff),
        action=with_lang(f"/staff/institutions/{institution_id}/inspections", lang),
        title_key="inspection_new_title",
    )  # fmt: skip


def _after_save(
    record_id: uuid.UUID, subject_path: str, posted: Posted, built: Built, lang: str
) -> str:
    """Where a saved draft goes next: the confirmation step, or the draft with a new row."""
    blank = built.empty_rows + 1 if posted.action == "add" else 0
    return next_step(record_id, subject_path, posted.action, lang, blank=blank)


def _without_removed(posted: Posted) -> InspectionForm:
    """The form without the row whose remove button was pressed (``remove-<row>``)."""
    if not posted.action.startswith("remove-"):
        return posted.form
    row = bounded_int(posted.action.removeprefix("remove-"), MAX_DEFICIENCY_ROWS)
    rows = [r for index, r in enumerate(posted.form.rows) if index != row]
    return InspectionForm(posted.form.values, rows)


def _with_default_deadlines(form: InspectionForm, policy: Policy) -> InspectionForm:
    """Each deficiency given a severity but no deadline gets the policy's, counted from
    the inspection's date, so the inspector sees it (and may change it) before confirming."""
    try:
        found_on = date.fromisoformat(form.values["occurred_on"])
    except ValueError:
        return form  # the date's own error is shown at its field
    rows = []
    for row in form.rows:
        severity = row["severity"]
        if row["item"].strip() and severity in SEVERITIES and not row[DEADLINE]:
            deadline = policy.inspection.default_deadline(severity, found_on)
            row = row | {DEADLINE: deadline.isoformat()}
        rows.append(row)
    return InspectionForm(form.values, rows)


async def _form_of(posted: Posted, desk: Desk) -> InspectionForm:
    """The form as posted, less a removed row, with the policy's default deadlines."""
    policy = await policy_now(desk.session, desk.ctx)
    return _with_default_deadlines(_without_removed(posted), policy)


@post("/institutions/{institution_id:uuid}/inspections", status_code=303)
async def create_inspection(
    desk: NamedDependency[Desk], institution_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    lang = desk.lang
    institution = await get_institution(desk.session, desk.ctx, institution_id)
    posted = await _posted(desk)
    form = await _form_of(posted, desk)
    built = build_inspection(form, institution_id)
    subject_path = with_lang(f"/staff/institutions/{institution_id}", lang)

    async def create(body: InspectionIn) -> str:
        view = await create_record(desk.session, desk.ctx, body, confirm=False)
        return _after_save(view.record.id, subject_path, posted, built, lang)

    return await save_or_show_again(
        desk, posted.key, built.body, posted.errors | built.errors, create,
        partial(
            _form_page, desk, institution, form, title_key="inspection_new_title",
            action=with_lang(f"/staff/institutions/{institution_id}/inspections", lang),
        ),
        placed=built.on_form_rows,
    )  # fmt: skip


def subject_path_of(record: Any) -> str:
    """The page of the subject a record belongs to: its institution, else its person."""
    if record.institution_id is not None:
        return f"/staff/institutions/{record.institution_id}"
    return f"/staff/practitioners/{record.practitioner_id}"


def _not_a_draft(desk: Desk, view: RecordView) -> Response[bytes]:
    path = subject_path_of(view.record)
    return see_other(with_lang(path, desk.lang, notice="not_a_draft"))


async def _institution_of(desk: Desk, view: RecordView) -> Any:
    assert view.record.institution_id is not None  # an inspection names its institution
    return await get_institution(desk.session, desk.ctx, view.record.institution_id)


InspectionAnswer = Callable[[Desk, RecordView, Any], Awaitable[Response[bytes]]]
RecordAnswer = Callable[[Desk, RecordView], Awaitable[Response[bytes]]]


def _by_kind(
    route: Callable[..., HTTPRouteHandler],
    tail: str,
    inspection: InspectionAnswer,
    other: RecordAnswer,
    *,
    drafts_only: bool = False,
    **options: Any,
) -> HTTPRouteHandler:
    """A record's page at ``/records/{record_id}<tail>``: an inspection's answer (given its
    institution), or another kind's (``record_pages``); a record no longer a draft, where
    only a draft will do, goes back to its subject."""

    async def record_page(
        desk: NamedDependency[Desk], record_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        view = await get_record(desk.session, desk.ctx, record_id)
        if drafts_only and view.record.status != RecordStatus.DRAFT:
            return _not_a_draft(desk, view)
        if view.record.kind != RecordKind.INSPECTION:
            return await other(desk, view)
        return await inspection(desk, view, await _institution_of(desk, view))

    return route(f"/records/{{record_id:uuid}}{tail}", **options)(record_page)


async def _edit_page(desk: Desk, view: RecordView, institution: Any) -> Response[bytes]:
    record_id = view.record.id
    blank = bounded_int(desk.request.query_params.get("blank") or "", 20)
    form = InspectionForm.of_draft(view).with_blank_rows(blank)
    return await _form_page(
        desk, institution, form, version=view.record.version, record_id=record_id,
        action=with_lang(f"/staff/records/{record_id}/edit", desk.lang),
        title_key="inspection_edit_title",
    )  # fmt: skip


async def _save(desk: Desk, view: RecordView, institution: Any) -> Response[bytes]:
    record_id, lang = view.record.id, desk.lang
    subject_path = with_lang(f"/staff/institutions/{institution.id}", lang)
    posted = await _posted(desk)
    form = await _form_of(posted, desk)
    built = build_inspection(form, institution.id)
    show_again = partial(
        _form_page, desk, institution, form, version=posted.version, record_id=record_id,
        action=with_lang(f"/staff/records/{record_id}/edit", lang),
        title_key="inspection_edit_title",
    )  # fmt: skip
    if posted.action == "discard":
        return await discard_or_show_again(
            desk, posted.key, record_id, posted.version, subject_path, show_again,
            lambda refused: posted.errors | refused,
        )  # fmt: skip

    async def replace(body: InspectionIn) -> str:
        await replace_draft(desk.session, desk.ctx, record_id, body, posted.version)
        return _after_save(record_id, subject_path, posted, built, lang)

    return await save_or_show_again(
        desk, posted.key, built.body, posted.errors | built.errors, replace, show_again,
        placed=built.on_form_rows,
    )  # fmt: skip


# --- confirming: what follows ----------------------------------------------------------------


@get("/records/{record_id:uuid}/confirm")
async def confirm_page(
    desk: NamedDependency[Desk], record_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    return await _confirm_page(desk, record_id)


def _facts(view: RecordView, t: dict[str, Any], worker: str | None) -> list[tuple[str, str]]:
    """What a draft says, as its reader sees it: each filled-in field's label and value."""
    record = view.record
    kind = RecordKind(record.kind)
    worker_row = [(t["field_practitioner"], worker)] if worker else []
    if kind != RecordKind.INSPECTION:
        return worker_row + displayed(kind, values_of_record(record), t)
    details = inspection_details(record.details)
    rows = [
        (t["field_occurred_on"], record.occurred_on.isoformat()),
        (t["field_inspection_type"], t["inspection_type_" + details.inspection_type.value]),
        (t["field_inspectors"], "、".join(details.inspectors)),
        (t["field_summary"], details.summary),
        (t["field_document_no"], record.document_no or ""),
    ]
    return [(label, value) for label, value in rows if value]


def _deficiency_rows(view: RecordView) -> list[dict[str, str]]:
    return [
        {
            "id": str(d.id), "item": d.item, "severity": d.severity, "scope": d.scope,
            "deadline": d.rectification_deadline.isoformat() if d.rectification_deadline else "",
        }
        for d in view.deficiencies
    ]  # fmt: skip


async def _confirm_page(
    desk: Desk,
    record_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[bytes]:
    session, ctx, lang = desk.session, desk.ctx, desk.lang
    view = await get_record(session, ctx, record_id)
    if view.record.status != RecordStatus.DRAFT:
        return _not_a_draft(desk, view)
    record = view.record
    institutions, people = await subjects_by_id(
        session, [record.institution_id] if record.institution_id else [],
        [record.practitioner_id] if record.practitioner_id else [],
    )  # fmt: skip
    subject = institutions.get(record.institution_id) if record.institution_id else None
    worker = people.get(record.practitioner_id) if record.practitioner_id else None
    named: Any = subject or worker
    name = named.name if named is not None else ""
    # Plain values first: what_follows empties the session.
    t = words(lang)
    facts = _facts(view, t, worker.name if worker and subject else None)
    deficiencies = _deficiency_rows(view)
    kind, subject_path = record.kind, subject_path_of(record)
    follows = await what_follows(session, ctx, view, lang)
    return desk.page(
        "inspect/confirm.html", status=status, name=name, kind=kind,
        facts=facts, deficiencies=deficiencies, follows=follows, errors=errors or {},
        form_key=new_form_key(), record_id=record_id, subject_path=subject_path,
        deficiency_code=DEFICIENCY_CODE, items={d["id"]: d for d in deficiencies},
        score=score_text, rule_titles=rule_titles(await policy_now(session, ctx), lang),
    )  # fmt: skip


@post("/records/{record_id:uuid}/confirm", status_code=303)
async def confirm_submit(
    desk: NamedDependency[Desk], record_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    lang = desk.lang
    fields, _ = await read_form(desk.request, ("idempotency_key",))

    async def work() -> Response[bytes]:
        view = await confirm_record(desk.session, desk.ctx, record_id)
        return see_other(with_lang(subject_path_of(view.record), lang, notice="confirmed"))

    try:
        return await write_idempotently(desk, fields["idempotency_key"], work)
    except DomainError as error:
        return await _confirm_page(desk, record_id, errors=errors_of(error, lang), status=409)


# --- correcting and revoking a confirmed record ----------------------------------------------


async def _correct_page(desk: Desk, view: RecordView, institution: Any) -> Response[bytes]:
    """The record's form, filled in as it stands, and the reason for the correction."""
    record_id = view.record.id
    return await _form_page(
        desk, institution, InspectionForm.of_draft(view), record_id=record_id,
        action=with_lang(f"/staff/records/{record_id}/correct", desk.lang),
        title_key="correct_title", reason="",
    )  # fmt: skip


async def _correct(desk: Desk, view: RecordView, institution: Any) -> Response[bytes]:
    """A correction stored as a draft (the service checks the original is in force); it
    goes on as any draft: rows added, then the confirmation step."""
    record_id, lang = view.record.id, desk.lang
    subject_path = with_lang(f"/staff/institutions/{institution.id}", lang)
    posted = await _posted(desk)
    fields, errors = await read_form(desk.request, (CORRECTION_REASON,))
    reason = checked_reason(fields[CORRECTION_REASON], CORRECTION_REASON, errors)
    form = await _form_of(posted, desk)
    built = build_inspection(form, institution.id)

    async def correct(body: InspectionIn) -> str:
        correction = CorrectionIn(reason=reason, record=body)
        draft = await correct_record(desk.session, desk.ctx, record_id, correction, confirm=False)
        return _after_save(draft.record.id, subject_path, posted, built, lang)

    return await save_or_show_again(
        desk, posted.key, built.body, errors | posted.errors | built.errors, correct,
        partial(
            _form_page, desk, institution, form, record_id=record_id,
            reason=fields[CORRECTION_REASON], title_key="correct_title",
            action=with_lang(f"/staff/records/{record_id}/correct", lang),
        ),
        placed=lambda found: built.on_form_rows(of_the_correction(found)),
    )  # fmt: skip


@post("/records/{record_id:uuid}/revoke", status_code=303)
async def revoke_submit(
    desk: NamedDependency[Desk], record_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    """Revoke a confirmed record with a reason (a penalty: reviewers only, as in the API)."""
    lang = desk.lang
    view = await get_record(desk.session, desk.ctx, record_id)
    kind, subject = _subject_of(view)
    fields, errors = await read_form(desk.request, ("reason", "document_no", "idempotency_key"))
    field_id = f"revoke-{record_id}"
    reason = checked_reason(fields["reason"], field_id, errors)
    document_no = fields["document_no"].strip() or None
    if document_no is not None and len(document_no) > MAX_DOCUMENT_NO:
        errors[field_id + "-document"] = f"Expected `str` of length <= {MAX_DOCUMENT_NO}"

    async def revoke(revocation: RecordRevocationIn) -> str:
        await revoke_record(desk.session, desk.ctx, record_id, revocation)
        return with_lang(subject_path_of(view.record), lang, notice="revoked")

    return await save_or_show_again(
        desk, fields["idempotency_key"], RecordRevocationIn(reason=reason, document_no=document_no),
        errors, revoke, partial(_subject_page, desk, kind, subject), placed=_first_at(field_id),
    )  # fmt: skip


def _first_at(field_id: str) -> Callable[[dict[str, str]], dict[str, str]]:
    """A refusal's first message, at the one form's place on a subject's page."""
    return lambda errors: {field_id: next(iter(errors.values()))}


def _subject_of(view: RecordView) -> tuple[SubjectKind, uuid.UUID]:
    record = view.record
    if record.institution_id is not None:
        return SubjectKind.INSTITUTION, record.institution_id
    assert record.practitioner_id is not None
    return SubjectKind.PRACTITIONER, record.practitioner_id


# --- rectification --------------------------------------------------------------------------


@post("/records/{record_id:uuid}/deficiencies/{deficiency_id:uuid}/rectification", status_code=303)
async def rectify_submit(
    desk: NamedDependency[Desk], record_id: FromPath[uuid.UUID], deficiency_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    view = await get_record(desk.session, desk.ctx, record_id)
    kind, subject = _subject_of(view)
    fields, errors = await read_form(desk.request, ("rectified_on", "note", "idempotency_key"))
    field_id = f"rectify-{deficiency_id}"
    values = present({"rectified_on": fields["rectified_on"], "note": fields["note"]})
    checked: dict[str, str] = {}
    check_fields(values, RectificationIn, "", checked)
    problems = errors | checked
    body = None if problems else msgspec.convert(values, RectificationIn, strict=False)

    async def rectify(rectification: RectificationIn) -> str:
        await rectify_deficiency(desk.session, desk.ctx, record_id, deficiency_id, rectification)
        return with_lang(f"/staff/{kind.value}s/{subject}", desk.lang, notice="rectified")

    place = _first_at(field_id)
    return await save_or_show_again(
        desk, fields["idempotency_key"], body, place(problems) if problems else {}, rectify,
        partial(_subject_page, desk, kind, subject), placed=place,
    )  # fmt: skip


INSPECTION_PAGES: list[HTTPRouteHandler] = [
    find_page,
    *for_each_subject(get, "", _subject_page),
    new_inspection_page,
    create_inspection,
    _by_kind(get, "/edit", _edit_page, record_pages.edit_page, drafts_only=True),
    _by_kind(post, "/edit", _save, record_pages.save, status_code=303),
    confirm_page,
    confirm_submit,
    rectify_submit,
    _by_kind(get, "/correct", _correct_page, record_pages.correct_page),
    _by_kind(post, "/correct", _correct, record_pages.correct_submit, status_code=303),
    revoke_submit,
    *record_pages.RECORD_PAGES,
    *IMPORT_PAGES,
]
INSPECTION_ROUTER = workbench_router(INSPECTION_PAGES)
