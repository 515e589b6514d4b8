"""What the inspectors' pages share: a write run as the API runs it (idempotent on the
form's key, in a savepoint), forms read safely, the API's messages in the page's language,
and what confirming a draft would do.

- Each write runs in a savepoint of the request's transaction. A refused form rolls back
  all it began (its idempotency claim and queued audit rows included) while the page
  that answers with the errors still commits the rest (the session's last-seen time).
- Each rendered form carries its own idempotency key, given to the API's ``idempotent``:
  a double click or a resubmitted form replays the first answer (a redirect) and creates
  nothing twice; a refused form stored nothing, so its corrected copy goes through.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.engine import Contribution
from service.errors import DomainError
from service.facts.kinds import SubjectKind
from service.listing.machine import OPEN
from service.listing.service import list_entries
from service.records.schemas import Reason
from service.records.service import RecordView, confirm_record
from service.standing.view import Standing, standing_of
from service.web.idempotency import idempotent
from service.workbench.i18n import translated
from service.workbench.inspection_words import CHINESE_FIELD_MESSAGES

HTML = "text/html; charset=utf-8"
NUL = "\x00"
LIST_ENTRIES_SHOWN = 50
MAX_VERSION = 2_147_483_647  # a row's version is a PostgreSQL integer
# An idempotency key as the API's header takes it: 1-255 visible ASCII characters.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def with_lang(path: str, lang: str, **query: str | int) -> str:
    return f"{path}?{urlencode({'lang': lang, **query})}"


def see_other(location: str) -> Response[bytes]:
    """A 303 whose Location is a plain header, so the idempotency store keeps and replays it."""
    return Response(b"", status_code=303, media_type=HTML, headers={"Location": location})


def new_form_key() -> str:
    return str(uuid.uuid4())


class _SubmittedForm:
    """A form post as the idempotency fingerprint sees it: its fields, as one canonical
    body. The CSRF guard has already parsed the form from the request's stream, so a
    multipart body is not there to read again (reading it would wait for ever); and a
    second click sends the same fields under another multipart boundary, which is the
    same request."""

    def __init__(self, request: Request[Any, Any, Any], fields: dict[str, Any]) -> None:
        self.method = request.method
        self.url = request.url
        self._canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()

    async def body(self) -> bytes:
        return self._canonical


async def write_idempotently(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: CommandContext,
    key: str,
    work: Callable[[], Awaitable[Response[Any]]],
    *,
    fields: dict[str, Any] | None = None,
) -> Response[Any]:
    """Run a page's write as the API would (idempotent on the form's key), in a savepoint:
    a refusal raises out of it, leaving nothing of the attempt behind. The request is
    fingerprinted by its form's text fields, or by ``fields`` (an upload: its file's digest)."""
    if fields is None:
        form = await request.form()
        fields = {name: [v for v in form.getall(name) if isinstance(v, str)] for name in form}
    # idempotent() reads only the method, the URL and the body of what it is given.
    submitted: Any = _SubmittedForm(request, fields)
    async with session.begin_nested():
        return await idempotent(
            submitted, session, ctx, key if KEY_PATTERN.match(key) else None, work
        )


async def read_form(
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


def bounded_int(text: str, upper: int) -> int:
    return min(int(text), upper) if text.isdigit() and len(text) < 10 else 0


def reason_title(standing: Standing, list_type: str, code: str, lang: str) -> str:
    """A list reason's title from the policy, in the page's language; the code if unknown."""
    reason = standing.policy.lists.of(list_type).proposal_reasons().get(code)
    return reason.title(lang) if reason else code


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
    found: dict[str, str] = {}
    for item in error.errors:
        found.setdefault(item.field, say(item.message, lang))
    return found or {"form": say(error.detail, lang)}


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
