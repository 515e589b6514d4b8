"""The documents written to a subject through an entry's due process, in Chinese.

The prior notice (告知书) and every decision the subject must be told of (列入, 不予列入,
异议复核, 信用修复, 移出) say the same things the same way:
- the facts: for an entry a record proposed, what happened, when, under which document
  number, as the record holds it; otherwise the basis the proposer wrote;
- the reason, by its Chinese title from the policy, never by its code;
- the legal basis: the record's own, then the list's published rule from the policy;
- a deadline as a day that is included ("截至2025年3月10日（含当日）");
- for a decision against the subject, the remedies and their time limits, from the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from service.facts.details import (
    AbuseFindingDetails,
    CommendationDetails,
    ComplaintDetails,
    InspectionDetails,
    PenaltyDetails,
    read_details,
)
from service.facts.kinds import RECORD_KIND_ZH, RecordKind
from service.listing.models import DocumentKind
from service.policy.document import Measure, Remedy
from service.records.models import Record

LIST_NAMES = {
    "black": "养老服务领域失信联合惩戒对象名单",
    "watch": "养老服务领域重点关注名单",
    "red": "养老服务领域守信激励名单",
}
_SHORT_NAMES = {"black": "失信联合惩戒对象名单", "watch": "重点关注名单", "red": "守信激励名单"}
_TITLES = {
    DocumentKind.NOTICE: "列入{list}事先告知书",
    DocumentKind.LISTING: "列入{list}决定书",
    DocumentKind.DISMISSAL: "不予列入{list}决定书",
    DocumentKind.OBJECTION_UPHELD: "异议复核决定书",
    DocumentKind.OBJECTION_REJECTED: "异议复核决定书",
    DocumentKind.REPAIR_APPROVED: "信用修复决定书",
    DocumentKind.REPAIR_REFUSED: "不予信用修复决定书",
    DocumentKind.REMOVAL: "移出{list}决定书",
}
# Decisions that go against the subject of a black or watch list: each states the remedies.
_AGAINST = frozenset(
    {DocumentKind.LISTING, DocumentKind.OBJECTION_REJECTED, DocumentKind.REPAIR_REFUSED}
)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _narrative(record: Record) -> str:
    """The record's own account of what happened, as its kind's details hold it."""
    details = read_details(record.kind, record.details)
    match details:
        case AbuseFindingDetails():
            return details.description
        case PenaltyDetails():
            return details.violation_facts
        case ComplaintDetails() | InspectionDetails():
            return details.summary
        case CommendationDetails():
            return details.title
    return ""


def sentence(text: str) -> str:
    """Text that ends as a Chinese sentence does, whatever the writer left off."""
    text = text.strip()
    return text if not text or text[-1] in "。！？；" else text + "。"


def record_facts_zh(record: Record) -> str:
    """'2025年1月5日，欺老虐老行为认定（文号：…）查明：…': what happened, when, under which number."""
    text = f"{chinese_date(record.occurred_on)}，{RECORD_KIND_ZH[RecordKind(record.kind)]}"
    if record.document_no:
        text += f"（文号：{record.document_no}）"
    if narrative := _narrative(record).strip().rstrip("。"):
        text += f"查明：{narrative}"
    return text


def title_of(kind: DocumentKind, list_type: str) -> str:
    title = _TITLES[kind].format(list=_SHORT_NAMES[list_type])
    return "列入守信激励名单公示" if (kind, list_type) == (DocumentKind.NOTICE, "red") else title


def is_against_the_subject(kind: DocumentKind, list_type: str) -> bool:
    return kind in _AGAINST and list_type != "red"


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything a document to the subject says, gathered by the step that writes it."""

    kind: DocumentKind
    document_id: str
    document_no: str | None
    list_type: str
    subject_kind: str
    subject_name: str
    subject_code: str | None  # a USCC; a person's ID number is not repeated in writing
    facts: str  # what happened, in Chinese, without the closing full stop
    reason_title: str | None  # the reason's Chinese title; None for a code the policy lacks
    legal_bases: list[str]  # the record's own, then the list's published rule
    authority: str
    issued_on: date
    measures: list[Measure] = field(default_factory=list)
    duration_months: int | None = None
    working_days: int | None = None  # the notice: the objection period
    deadline: date | None = None  # the notice: the last day to object
    by_fallback: bool = False
    publish_by: date | None = None  # the listing: the last day to publish it
    removed_on: date | None = None  # a removal: the day the entry ended
    effective_to: date | None = None  # an expiry: the last day it was in force
    grounds: str | None = None  # the ruling's own reasons (a resolution, a comment)
    objected_on: date | None = None  # an objection ruled on
    remedies: list[Remedy] = field(default_factory=list)

    @property
    def against_the_subject(self) -> bool:
        return is_against_the_subject(self.kind, self.list_type)


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("service.listing", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain text for a letter, never HTML  # noqa: S701
    )
    environment.filters["day"] = chinese_date
    environment.filters["sentence"] = sentence
    return environment


def render(letter: Letter) -> str:
    institution = letter.subject_kind == "institution"
    template = "notice.zh.txt.j2" if letter.kind == DocumentKind.NOTICE else "decision.zh.txt.j2"
    return (
        _environment()
        .get_template(template)
        .render(
            letter=letter,
            title=title_of(letter.kind, letter.list_type),
            subject_label="当事单位" if institution else "当事人",
            you="你单位" if institution else "你",
            list_name=LIST_NAMES[letter.list_type],
            legal_basis="、".join(dict.fromkeys(letter.legal_bases)),
            remedies=letter.remedies if letter.against_the_subject else [],
            kinds=DocumentKind,
        )
    )
