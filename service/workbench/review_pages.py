"""The reviewers' pages: the queue of list entries by their next deadline, an entry with its
basis, history, documents, objections and repair applications, and a form for each step
the person may take now.

The pages hold no rules. The queue and the steps on offer come from
``service.listing.queue``; each form calls the same service function as the API's route
(``service.listing.routes.COMMANDS``), with the body the API would decode, in the
request's transaction, idempotently (a key per rendered form, so a double click or a
resubmitted form does it once), and audited by the service as any step is. A refusal the
person can fix (a field, a step that no longer fits) is shown on the page; the rest (a
forged ruling by the proposer, another region) is the service's 403 or 404, as a page.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec
import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.models import User
from service.errors import Conflict, DomainError, Invalid, NotFound
from service.facts.kinds import RECORD_KIND_ZH, RecordKind
from service.identity.regions import region_name
from service.listing import service
from service.listing.documents import is_against_the_subject, title_of
from service.listing.machine import Action
from service.listing.models import DocumentKind, ListEntry, Notice
from service.listing.queue import (
    QUEUE_STATUSES,
    OpenSteps,
    open_steps,
    queue_filter,
    repair_application_entry,
    repair_checks,
    review_queue,
)
from service.listing.schemas import (
    DecisionIn,
    EntryRevocationIn,
    ObjectionDecisionIn,
    ObjectionIn,
    RepairDecisionIn,
    RepairIn,
    StepIn,
)
from service.policy.document import ListType
from service.policy.store import policy_now
from service.records.models import Record
from service.registry.models import Institution, Practitioner
from service.workbench.form_writes import new_form_key, see_other, write_idempotently
from service.workbench.i18n import words
from service.workbench.review_refusals import said
from service.workbench.routes import (
    Desk,
    china_time,
    domain_status,
    field_errors,
    form_fields,
    language,
    message_page,
    with_lang,
    workbench_router,
)

PAGE_SIZE = 50
IDEMPOTENCY_FIELD = "idempotency_key"
FIELD_IN_ERROR = re.compile(r"`\$\.(\w+)`|field `(\w+)`")


@dataclass(frozen=True, slots=True)
class StepForm:
    """A form for one service function: the fields it sends, and for a ruling the button
    that says which way (``choice``: the body's field, the button meaning yes, meaning no)."""

    slug: str
    run: Callable[..., Awaitable[Any]]
    body: type[msgspec.Struct]
    fields: tuple[str, ...]
    actions: frozenset[Action]
    choice: tuple[str, str, str] | None = None
    required: tuple[str, ...] = ()  # marked required on the page (the body decides)


STEP_FORMS = (
    StepForm("notify", service.notify, StepIn, ("basis_document", "comment"),
             frozenset({Action.NOTIFY})),
    StepForm("object", service.object_to, ObjectionIn,
             ("filed_by_name", "statement", "evidence", "received_on"), frozenset({Action.OBJECT}),
             required=("filed_by_name", "statement")),
    StepForm("objection-decision", service.decide_objection, ObjectionDecisionIn,
             ("resolution", "basis_document"),
             frozenset({Action.UPHOLD_OBJECTION, Action.REJECT_OBJECTION}),
             choice=("uphold", "uphold", "reject"), required=("resolution",)),
    StepForm("decision", service.decide, DecisionIn, ("comment", "basis_document"),
             frozenset({Action.DECIDE_LIST, Action.DECIDE_DISMISS}),
             choice=("list", "list", "dismiss"), required=("comment", "basis_document")),
    StepForm("publish", service.publish, StepIn, ("basis_document", "comment"),
             frozenset({Action.PUBLISH})),
    StepForm("revoke", service.revoke, EntryRevocationIn, ("reason", "basis_document"),
             frozenset({Action.REVOKE}), required=("reason", "basis_document")),
    StepForm("withdraw", service.withdraw, StepIn, ("basis_document", "comment"),
             frozenset({Action.WITHDRAW})),
)  # fmt: skip
STEP_FORMS_BY_SLUG = {form.slug: form for form in STEP_FORMS}
REPAIR_APPLICATION = StepForm(
    "repair-application", service.apply_for_repair, RepairIn,
    ("evidence", "obligations_fulfilled", "public_commitment"), frozenset(),
    required=("evidence",),
)  # fmt: skip
REPAIR_DECISION = StepForm(
    "repair-decision", service.decide_repair, RepairDecisionIn, ("comment",), frozenset(),
    choice=("approve", "approve", "refuse"), required=("comment",),
)  # fmt: skip
CHECKBOXES = frozenset({"obligations_fulfilled"})


class FormRefused(Invalid):
    """A field the body's type refuses, named by the words the page shows for it."""


def _form_error(error: msgspec.ValidationError) -> FormRefused:
    text = str(error)
    found = FIELD_IN_ERROR.search(text)
    field = (found.group(1) or found.group(2)) if found else "form"
    if "length >= 1" in text or "missing required" in text:
        key = "form_required"
    elif "length <=" in text:
        key = "form_too_long"
    elif "date" in text:
        key = "form_bad_date"
    else:
        key = "form_invalid"
    return FormRefused(text, errors=[Invalid.field(field, key).errors[0]])


def _body(form: StepForm, fields: dict[str, str]) -> Any:
    """The body the API would decode, from the form: an empty field is an absent one."""
    data: dict[str, Any] = {}
    for name in form.fields:
        if name in CHECKBOXES:
            data[name] = fields[name] == "yes"
        elif fields[name].strip():
            data[name] = fields[name]
    if form.choice is not None:
        field, yes, no = form.choice
        if fields["choice"] not in (yes, no):
            raise FormRefused("choose", errors=[Invalid.field("form", "form_choose").errors[0]])
        data[field] = fields["choice"] == yes
    try:
        return msgspec.convert(data, form.body)
    except msgspec.ValidationError as error:
        raise _form_error(error) from error


def _say(message: str, lang: str) -> str:
    """A field's message: the page's own words for it (a form's), else the service's."""
    return str(words(lang).get(message) or said(message, lang))


def _errors_in(error: DomainError, lang: str) -> dict[str, str]:
    return field_errors(error, lang, _say)


def refusal_page(request: Request[Any, Any, Any], error: DomainError) -> Response[bytes]:
    """A refusal a page does not answer itself (a ruling the person may not make, another
    region, an entry that does not exist), as a page with the service's status."""
    lang = language(request)
    t = words(lang)
    status = domain_status(error)
    return message_page(
        request, status, t["forbidden_title"] if status == 403 else t["error_title"],
        said(error.detail, lang), back=(with_lang("/staff/queue", lang), t["queue_title"]),
    )  # fmt: skip


# Every reviewers' page answers the service's refusals in its own words.
REFUSALS: ExceptionHandlersMap = {DomainError: refusal_page}


def _place(code: str) -> str:
    """A region by its name, the code beside it (杭州市上城区（330102）); the code alone when
    the table lacks it."""
    name = region_name(code)
    return f"{name}（{code}）" if name else code


# --- the queue -------------------------------------------------------------------------


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


@get("/queue", exception_handlers=REFUSALS)
async def queue_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    lang = desk.lang
    query = desk.request.query_params
    asked = {name: query.get(name) or "" for name in ("list_type", "status", "region")}
    number = _page_number(query.get("page"))
    try:
        wanted = queue_filter(asked["list_type"], asked["status"], asked["region"])
        queue = await review_queue(desk.session, desk.ctx, wanted, page=number, page_size=PAGE_SIZE)
    except Invalid as error:
        return desk.page(
            "review/queue.html", status=422, asked=asked,
            errors=_errors_in(error, lang), queue=None, **_filters(),
        )  # fmt: skip
    pages = max(1, math.ceil(queue.total / PAGE_SIZE))

    def page_href(to: int) -> str:
        return "/staff/queue?" + urlencode({**asked, "lang": lang, "page": to})

    return desk.page(
        "review/queue.html", asked=asked, errors={}, queue=queue,
        page_number=number, pages=pages, place=_place,
        previous_href=page_href(number - 1) if number > 1 else None,
        next_href=page_href(number + 1) if number < pages else None, **_filters(),
    )  # fmt: skip


def _filters() -> dict[str, Any]:
    return {
        "list_types": [kind.value for kind in ListType],
        "statuses": [status.value for status in QUEUE_STATUSES],
    }


# --- an entry --------------------------------------------------------------------------


async def _names(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        sa.select(col(User.id), col(User.name)).where(col(User.id).in_(wanted))
    )
    return {user_id: name for user_id, name in rows.all()}


async def _subject(session: AsyncSession, entry: ListEntry) -> Institution | Practitioner | None:
    model: type[Institution] | type[Practitioner] = (
        Institution if entry.subject_kind == "institution" else Practitioner
    )
    return await session.get(model, entry.subject_id)


async def _entry_page(
    desk: Desk,
    entry_id: uuid.UUID,
    *,
    status: int = 200,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response[bytes]:
    session, ctx, lang = desk.session, desk.ctx, desk.lang
    view = await service.entry_view(session, ctx, entry_id)
    entry = view.entry
    policy = await policy_now(session, ctx)
    steps: OpenSteps = open_steps(ctx.actor, entry, ctx.today(), view.repairs)
    record = await session.get(Record, entry.trigger_record_id) if entry.trigger_record_id else None
    reason = policy.list_reason(entry.list_type, entry.reason_code)
    names = await _names(
        session,
        [t.actor_id for t in view.transitions]
        + [o.recorded_by for o in view.objections]
        + [r.recorded_by for r in view.repairs],
    )
    forms = [form for form in STEP_FORMS if form.actions & set(steps.steps)]
    checks = await repair_checks(session, ctx, entry, policy)
    return desk.page(
        "review/entry.html", status=status, view=view, entry=entry,
        subject=await _subject(session, entry), record=record,
        record_kind_zh=RECORD_KIND_ZH.get(RecordKind(record.kind)) if record else None,
        reason_title=reason.title(lang) if reason else None,
        measures=policy.measures_of([entry.list_type]), steps=steps, forms=forms,
        documents=[_document(d, entry.list_type) for d in view.documents], names=names,
        repair_checks=checks, may_apply_for_repair=steps.repair_application,
        may_review_repair=steps.repair_review, failed=failed, errors=errors or {},
        values=values or {}, new_key=new_form_key, china_time=china_time,
        place=_place,
        done=desk.request.query_params.get("done"),
    )  # fmt: skip


def _document(document: Notice, list_type: str) -> dict[str, Any]:
    kind = DocumentKind(document.kind)
    return {
        "row": document,
        "title": title_of(kind, list_type),
        "against": is_against_the_subject(kind, list_type),
    }


@get("/entries/{entry_id:uuid}", exception_handlers=REFUSALS)
async def entry_page(desk: NamedDependency[Desk], entry_id: FromPath[uuid.UUID]) -> Response[bytes]:
    return await _entry_page(desk, entry_id)


@get("/entries/{entry_id:uuid}/documents/{document_id:uuid}", exception_handlers=REFUSALS)
async def document_page(
    desk: NamedDependency[Desk], entry_id: FromPath[uuid.UUID], document_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    """One document as it was sent, laid out for A4 (the print stylesheet)."""
    document = await service.entry_document(desk.session, desk.ctx, entry_id, document_id)
    entry = await desk.session.get(ListEntry, entry_id)
    assert entry is not None  # entry_document found it
    return desk.page(
        "review/document.html", entry=entry,
        document=_document(document, entry.list_type), china_time=china_time,
    )  # fmt: skip


# --- the steps -------------------------------------------------------------------------


async def _take(
    desk: Desk,
    form: StepForm,
    target: uuid.UUID,
    back_to: Callable[[], Awaitable[uuid.UUID]],
) -> Response[Any]:
    """Run a form's service function idempotently in a savepoint: a refusal the person can
    fix rolls back to it and shows the entry again with the error at its field."""
    lang = desk.lang
    fields: dict[str, str] = {}
    try:
        fields = await form_fields(desk.request, *form.fields, "choice", IDEMPOTENCY_FIELD)
        body = _body(form, fields)

        async def work() -> Response[Any]:
            await form.run(desk.session, desk.ctx, target, body)
            entry_id = await back_to()
            return see_other(with_lang(f"/staff/entries/{entry_id}", lang, done=form.slug))

        # The form's fields are its fingerprint: the CSRF guard has read the body already.
        key = fields.get(IDEMPOTENCY_FIELD, "")
        return await write_idempotently(desk, key, work, fields=dict(fields))
    except (Invalid, Conflict) as error:
        desk.session.expunge_all()  # what the savepoint undid is read afresh
        status = 422 if isinstance(error, Invalid) else 409
        return await _entry_page(
            desk, await back_to(), status=status, failed=form.slug,
            errors=_errors_in(error, lang), values=fields,
        )  # fmt: skip


@post("/entries/{entry_id:uuid}/steps/{slug:str}", status_code=303, exception_handlers=REFUSALS)
async def entry_step(
    desk: NamedDependency[Desk], entry_id: FromPath[uuid.UUID], slug: FromPath[str]
) -> Response[Any]:
    form = STEP_FORMS_BY_SLUG.get(slug) or (
        REPAIR_APPLICATION if slug == REPAIR_APPLICATION.slug else None
    )
    if form is None:
        raise NotFound(f"no step {slug[:40]!r}")

    async def the_entry() -> uuid.UUID:
        return entry_id

    return await _take(desk, form, entry_id, the_entry)


@post(
    "/repair-applications/{application_id:uuid}/decision",
    status_code=303,
    exception_handlers=REFUSALS,
)
async def repair_decision(
    desk: NamedDependency[Desk], application_id: FromPath[uuid.UUID]
) -> Response[Any]:
    async def its_entry() -> uuid.UUID:
        return await repair_application_entry(desk.session, desk.ctx, application_id)

    return await _take(desk, REPAIR_DECISION, application_id, its_entry)


REVIEW_PAGES = [queue_page, entry_page, document_page, entry_step, repair_decision]
REVIEW_ROUTER = workbench_router(REVIEW_PAGES)
