"""What the inspectors' pages share: the API's messages in the page's language, a draft's
form sent (saved or discarded, then where its button goes; or the form again with its
errors), and what confirming a draft would do. Their writes go through ``form_writes``
(idempotent on the form's key, in a savepoint), as every area's do.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Response
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.engine import Contribution
from service.errors import DomainError
from service.facts.kinds import SubjectKind
from service.listing.machine import OPEN
from service.listing.service import list_entries
from service.policy.document import Policy
from service.records.schemas import Reason
from service.records.service import RecordView, confirm_record, delete_draft
from service.standing.view import Standing, standing_of
from service.workbench.form_writes import new_form_key, see_other, write_idempotently
from service.workbench.i18n import translated
from service.workbench.inspection_words import CHINESE_FIELD_MESSAGES
from service.workbench.routes import Desk, field_errors, with_lang

LIST_ENTRIES_SHOWN = 50
MAX_VERSION = 2_147_483_647  # a row's version is a PostgreSQL integer


def next_step(
    record_id: uuid.UUID, subject_path: str, action: str, lang: str, **query: str | int
) -> str:
    """Where a saved draft goes next (its form's button): the confirmation step, its
    subject's page (discarded), or the draft's form again, saved."""
    if action == "review":
        return with_lang(f"/staff/records/{record_id}/confirm", lang)
    if action == "discard":
        return subject_path
    return with_lang(f"/staff/records/{record_id}/edit", lang, saved=1, **query)


# --- finding a subject -------------------------------------------------------------------


SubjectPage = Callable[[Desk, SubjectKind, uuid.UUID], Awaitable[Response[bytes]]]


def for_each_subject(
    route: Callable[..., HTTPRouteHandler], tail: str, answer: SubjectPage, **options: Any
) -> list[HTTPRouteHandler]:
    """The same page for each kind of subject, at ``/institutions/{subject_id}<tail>`` and
    ``/practitioners/{subject_id}<tail>``: ``answer(desk, kind, subject_id)``."""

    def handler_for(kind: SubjectKind) -> HTTPRouteHandler:
        async def subject_page(
            desk: NamedDependency[Desk], subject_id: FromPath[uuid.UUID]
        ) -> Response[bytes]:
            return await answer(desk, kind, subject_id)

        return route(f"/{kind.value}s/{{subject_id:uuid}}{tail}", **options)(subject_page)

    return [handler_for(kind) for kind in SubjectKind]


def bounded_int(text: str, upper: int) -> int:
    return min(int(text), upper) if text.isdigit() and len(text) < 10 else 0


def reason_title(standing: Standing, list_type: str, code: str, lang: str) -> str:
    """A list reason's title from the policy, in the page's language; the code if unknown."""
    reason = standing.policy.lists.of(list_type).proposal_reasons().get(code)
    return reason.title(lang) if reason else code


def rule_titles(policy: Policy, lang: str) -> dict[str, str]:
    """Each scoring rule's title in the page's language, by its code (a point's "why")."""
    return {rule.code: rule.title(lang) for rule in policy.rules}


def say(message: str, lang: str) -> str:
    """An API message about a field in the page's language, where it is known."""
    if lang == "zh":
        for pattern, chinese in CHINESE_FIELD_MESSAGES:
            if found := pattern.match(message):
                return chinese.format(**found.groupdict())
    return translated(message, lang)


def translated_errors(errors: dict[str, str], lang: str) -> dict[str, str]:
    return {name: say(message, lang) for name, message in errors.items()}


def errors_of(error: DomainError, lang: str) -> dict[str, str]:
    return field_errors(error, lang, say)


def draft_form_page(
    desk: Desk,
    template: str,
    *,
    action: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
    version: int | None = None,
    record_id: uuid.UUID | None = None,
    reason: str | None = None,
    **context: Any,
) -> Response[bytes]:
    """A draft's form (an inspection's or another record's): where it is sent, its errors,
    the draft's version and id once it has them, a correction's reason, a fresh form key,
    and whether it was just saved (``?saved=1``)."""
    return desk.page(
        template, status=status, action=action, errors=errors or {}, version=version,
        record_id=record_id, reason=reason, form_key=new_form_key(),
        saved=desk.request.query_params.get("saved") == "1", **context,
    )  # fmt: skip


async def save_or_show_again(
    desk: Desk,
    key: str,
    body: object | None,
    errors: dict[str, str],
    save: Callable[[Any], Awaitable[str]],
    show_again: Callable[..., Awaitable[Response[bytes]]],
    placed: Callable[[dict[str, str]], dict[str, str]] | None = None,
) -> Response[Any]:
    """A form sent: with its body built and no errors, ``save`` (given the body) run
    idempotently on the form's key (``write_idempotently``), then a redirect to where it says next; otherwise,
    or refused, the form again (``show_again``, 422) with the errors in the page's language
    (a refusal's ``placed`` on the form's fields first)."""
    lang = desk.lang
    if body is not None and not errors:
        built = body

        async def work() -> Response[bytes]:
            return see_other(await save(built))

        try:
            return await write_idempotently(desk, key, work)
        except DomainError as error:
            errors = errors_of(error, lang)
            errors = placed(errors) if placed else errors
    return await show_again(status=422, errors=translated_errors(errors, lang))


async def discard_or_show_again(
    desk: Desk,
    key: str,
    record_id: uuid.UUID,
    version: int,
    subject_path: str,
    show_again: Callable[..., Awaitable[Response[bytes]]],
    placed: Callable[[dict[str, str]], dict[str, str]],
) -> Response[Any]:
    """A draft's discard button: the draft deleted whatever its form holds (nothing of it is
    sent), then its subject's page; or, refused, the form again with the refusal's errors
    ``placed`` among the form's own."""

    async def discard(_: uuid.UUID) -> str:
        await delete_draft(desk.session, desk.ctx, record_id, version)
        return subject_path

    return await save_or_show_again(desk, key, record_id, {}, discard, show_again, placed)


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


def score_text(value: Any) -> str:
    return f"{value.normalize():f}"


async def open_entries(
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
    open_before = {key: await open_entries(session, ctx, key[1]) for key in keys}
    savepoint = await session.begin_nested()
    try:
        await confirm_record(session, ctx, record_id)
        after = {key: await standing_of(session, ctx, key[0], key[1], None) for key in keys}
        open_after = {key: await open_entries(session, ctx, key[1]) for key in keys}
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
                before[key].name, score_text(old.score), old.grade, score_text(new.score), new.grade
            )
        )
        points.extend(part for part in new.contributions if part.record_id == record_id)
        for entry_id, (list_type, reason_code, kind) in open_after[key].items():
            if entry_id not in open_before[key] and kind == key[0]:
                reason = reason_title(after[key], list_type, reason_code, lang)
                proposals.append(Proposal(list_type, reason))
    return WhatFollows(changes, points, proposals)


CORRECTION_REASON = "correction_reason"


def checked_reason(text: str, field: str, errors: dict[str, str]) -> str:
    """A reason as the API takes one (1 to 1000 characters), or an error at its field."""
    try:
        return str(msgspec.convert(text.strip(), Reason))
    except msgspec.ValidationError as error:
        errors[field] = "is required" if not text.strip() else str(error).partition(" - at `")[0]
        return ""


def of_the_correction(errors: dict[str, str]) -> dict[str, str]:
    """The API names a correction's fields under ``record.``; the form, as a record's."""
    return {name.removeprefix("record."): message for name, message in errors.items()}
