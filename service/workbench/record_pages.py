"""Complaints, abuse findings, penalties and commendations, recorded from a subject's page:
a draft first (saved with every button, as an inspection is), then the confirmation step
(``inspection_pages``) that shows what will follow. Which fields each kind has is
``record_forms``; which subjects a kind may name is the domain's ``SUBJECT_RULES``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from litestar import Response, get, post
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.employment.service import list_employments
from service.errors import Invalid
from service.facts.kinds import SUBJECT_RULES, RecordKind, RecordStatus, SubjectKind
from service.records.schemas import CorrectionIn, RecordIn
from service.records.service import (
    RecordView,
    correct_record,
    create_record,
    replace_draft,
)
from service.registry.service import get_institution, get_practitioner, subjects_by_id
from service.workbench.i18n import words
from service.workbench.inspection_common import (
    CORRECTION_REASON,
    MAX_VERSION,
    bounded_int,
    checked_reason,
    discard_or_show_again,
    draft_form_page,
    for_each_subject,
    next_step,
    of_the_correction,
    save_or_show_again,
)
from service.workbench.record_forms import (
    KIND_FIELDS,
    PRACTITIONER_FIELD,
    build_record,
    form_kind,
    values_of_record,
)
from service.workbench.routes import Desk, read_form, with_lang

FORM_FIELDS = ("action", "idempotency_key", "version", PRACTITIONER_FIELD, CORRECTION_REASON)


def kinds_for(subject: SubjectKind) -> list[RecordKind]:
    """The kinds a subject's page offers: those the domain lets name it alone."""
    alone = (True, False) if subject == SubjectKind.INSTITUTION else (False, True)
    return [kind for kind in KIND_FIELDS if SUBJECT_RULES[kind].allows(*alone)]


def _names_a_worker_too(kind: RecordKind) -> bool:
    """Whether a record of this kind about an institution may also name a care worker."""
    return SUBJECT_RULES[kind].allows(True, True)


def _kind_named(text: str | None) -> RecordKind:
    kind = form_kind(text)
    if kind is None:
        raise Invalid.field("kind", "must be complaint, abuse_finding, penalty or commendation")
    return kind


async def _employees(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID
) -> list[tuple[str, str]]:
    """The care workers an institution employs now, to name one in a record (id, name)."""
    employed = await list_employments(
        session, ctx, institution_id=institution_id, current_only=True
    )
    _, people = await subjects_by_id(session, [], [e.practitioner_id for e in employed])
    return sorted(((str(pid), person.name) for pid, person in people.items()), key=lambda p: p[1])


def _label_of(kind: RecordKind, lang: str) -> Callable[[str], str]:
    t = words(lang)
    labels = {spec.name: t[spec.label] for spec in KIND_FIELDS[kind]}
    labels[PRACTITIONER_FIELD] = t["field_practitioner"]
    labels[CORRECTION_REASON] = t["correction_reason"]
    return lambda name: labels.get(name, name)


async def _read(desk: Desk, kind: RecordKind) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted values (a list for boxes) and an error for any holding a NUL."""
    return await read_form(
        desk.request,
        [spec.name for spec in KIND_FIELDS[kind]] + list(FORM_FIELDS),
        multiple=[spec.name for spec in KIND_FIELDS[kind] if spec.widget == "choices"],
    )


def _practitioner_of(values: dict[str, Any], errors: dict[str, str]) -> uuid.UUID | None:
    text = values.get(PRACTITIONER_FIELD) or ""
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        errors[PRACTITIONER_FIELD] = "must be one of the care workers listed"
        return None


async def _form_page(
    desk: Desk,
    kind: RecordKind,
    subject: Any,
    values: dict[str, Any],
    *,
    employees: list[tuple[str, str]] | None,
    **draft: Any,
) -> Response[bytes]:
    return draft_form_page(
        desk, "inspect/record_form.html", kind=kind.value, specs=KIND_FIELDS[kind],
        subject=subject, values=values, employees=employees, label_of=_label_of(kind, desk.lang),
        **draft,
    )  # fmt: skip


async def _new_page(
    desk: Desk, subject_kind: SubjectKind, subject_id: uuid.UUID
) -> Response[bytes]:
    kind = _kind_named(desk.request.query_params.get("kind"))
    lang = desk.lang
    subject, employees = await _subject(desk, subject_kind, subject_id, kind)
    return await _form_page(
        desk, kind, subject, {"occurred_on": desk.ctx.today().isoformat()},
        action=with_lang(f"/staff/{subject_kind.value}s/{subject_id}/records", lang, kind=kind.value),
        employees=employees,
    )  # fmt: skip


async def _subject(
    desk: Desk,
    subject_kind: SubjectKind,
    subject_id: uuid.UUID,
    kind: RecordKind,
) -> tuple[Any, list[tuple[str, str]] | None]:
    """The subject (in the caller's region) and, where the kind may name one, its staff."""
    session, ctx = desk.session, desk.ctx
    if subject_kind == SubjectKind.INSTITUTION:
        institution = await get_institution(session, ctx, subject_id)
        workers = await _employees(session, ctx, subject_id) if _names_a_worker_too(kind) else None
        return institution, workers
    return await get_practitioner(session, ctx, subject_id), None


async def _create(desk: Desk, subject_kind: SubjectKind, subject_id: uuid.UUID) -> Response[bytes]:
    kind = _kind_named(desk.request.query_params.get("kind"))
    lang = desk.lang
    subject, employees = await _subject(desk, subject_kind, subject_id, kind)
    values, errors = await _read(desk, kind)
    institution_id = subject_id if subject_kind == SubjectKind.INSTITUTION else None
    practitioner_id = (
        _practitioner_of(values, errors) if subject_kind == SubjectKind.INSTITUTION else subject_id
    )
    built = build_record(
        kind, values, institution_id=institution_id, practitioner_id=practitioner_id
    )
    subject_path = with_lang(f"/staff/{subject_kind.value}s/{subject_id}", lang)

    async def create(body: RecordIn) -> str:
        view = await create_record(desk.session, desk.ctx, body, confirm=False)
        return next_step(view.record.id, subject_path, values["action"], lang)

    return await save_or_show_again(
        desk, values["idempotency_key"], built.body, errors | built.errors, create,
        partial(
            _form_page, desk, kind, subject, values, employees=employees,
            action=with_lang(f"/staff/{subject_kind.value}s/{subject_id}/records", lang, kind=kind.value),
        ),
    )  # fmt: skip


# --- a draft of these kinds, from /staff/records/{id}/edit (inspection_pages dispatches) ---


async def _draft_subject(
    desk: Desk, view: RecordView, kind: RecordKind
) -> tuple[Any, str, list[tuple[str, str]] | None]:
    record = view.record
    if record.institution_id is not None:
        subject, employees = await _subject(
            desk, SubjectKind.INSTITUTION, record.institution_id, kind
        )
        return subject, f"/staff/institutions/{record.institution_id}", employees
    assert record.practitioner_id is not None
    subject = await get_practitioner(desk.session, desk.ctx, record.practitioner_id)
    return subject, f"/staff/practitioners/{record.practitioner_id}", None


async def _record_form(desk: Desk, view: RecordView, step: str, **draft: Any) -> Response[bytes]:
    """The record's form filled in as it stands, sent to ``/staff/records/<id>/<step>``."""
    kind = RecordKind(view.record.kind)
    subject, _, employees = await _draft_subject(desk, view, kind)
    return await _form_page(
        desk, kind, subject, values_of_record(view.record), employees=employees,
        action=with_lang(f"/staff/records/{view.record.id}/{step}", desk.lang),
        record_id=view.record.id, **draft,
    )  # fmt: skip


async def edit_page(desk: Desk, view: RecordView) -> Response[bytes]:
    return await _record_form(desk, view, "edit", version=view.record.version)


async def save(desk: Desk, view: RecordView) -> Response[bytes]:
    lang = desk.lang
    record_id, kind = view.record.id, RecordKind(view.record.kind)
    if view.record.status != RecordStatus.DRAFT:
        raise Invalid(f"record {record_id} is {view.record.status}: only a draft is edited")
    subject, subject_path, employees = await _draft_subject(desk, view, kind)
    subject_path = with_lang(subject_path, lang)
    values, errors = await _read(desk, kind)
    version = bounded_int(values["version"], MAX_VERSION)
    practitioner_id = (
        _practitioner_of(values, errors) if employees is not None else view.record.practitioner_id
    )
    built = build_record(
        kind, values, institution_id=view.record.institution_id, practitioner_id=practitioner_id
    )
    show_again = partial(
        _form_page, desk, kind, subject, values, employees=employees, version=version,
        record_id=record_id, action=with_lang(f"/staff/records/{record_id}/edit", lang),
    )  # fmt: skip
    if values["action"] == "discard":
        return await discard_or_show_again(
            desk, values["idempotency_key"], record_id, version, subject_path, show_again,
            lambda refused: errors | refused | built.errors,
        )  # fmt: skip

    async def replace(body: RecordIn) -> str:
        await replace_draft(desk.session, desk.ctx, record_id, body, version)
        return next_step(record_id, subject_path, values["action"], lang)

    return await save_or_show_again(
        desk, values["idempotency_key"], built.body, errors | built.errors, replace, show_again
    )


async def correct_page(desk: Desk, view: RecordView) -> Response[bytes]:
    return await _record_form(desk, view, "correct", reason="")


async def correct_submit(desk: Desk, view: RecordView) -> Response[bytes]:
    """A correction stored as a draft, then the confirmation step as for any draft."""
    lang = desk.lang
    record_id, kind = view.record.id, RecordKind(view.record.kind)
    subject, subject_path, employees = await _draft_subject(desk, view, kind)
    values, errors = await _read(desk, kind)
    reason = checked_reason(values[CORRECTION_REASON], CORRECTION_REASON, errors)
    practitioner_id = (
        _practitioner_of(values, errors) if employees is not None else view.record.practitioner_id
    )
    built = build_record(
        kind, values, institution_id=view.record.institution_id, practitioner_id=practitioner_id
    )

    async def correct(body: RecordIn) -> str:
        correction = CorrectionIn(reason=reason, record=body)
        draft = await correct_record(desk.session, desk.ctx, record_id, correction, confirm=False)
        path = with_lang(subject_path, lang)
        return next_step(draft.record.id, path, values["action"], lang)

    return await save_or_show_again(
        desk, values["idempotency_key"], built.body, errors | built.errors, correct,
        partial(
            _form_page, desk, kind, subject, values, employees=employees, record_id=record_id,
            reason=values[CORRECTION_REASON],
            action=with_lang(f"/staff/records/{record_id}/correct", lang),
        ),
        placed=of_the_correction,
    )  # fmt: skip


RECORD_PAGES: list[HTTPRouteHandler] = [
    *for_each_subject(get, "/records/new", _new_page),
    *for_each_subject(post, "/records", _create, status_code=303),
]
