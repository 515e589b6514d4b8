"""The written notice of a proposed listing: basis, measures, and the objection deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from service.policy.document import Measure

LIST_NAMES = {
    "black": "养老服务领域失信联合惩戒对象名单",
    "watch": "养老服务领域重点关注名单",
    "red": "养老服务领域守信激励名单",
}
TITLES = {
    "black": "列入失信联合惩戒对象名单事先告知书",
    "watch": "列入重点关注名单事先告知书",
    "red": "列入守信激励名单公示",
}


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    entry_id: str
    list_type: str
    subject_kind: str
    subject_name: str
    subject_code: str | None  # a USCC; a person's ID number is not repeated in writing
    reason: str
    basis: str
    measures: list[Measure]
    duration_months: int
    working_days: int
    deadline: date
    by_fallback: bool
    authority: str
    notice_date: date


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.listing", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # plain text for a letter, never HTML  # noqa: S701
    )


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render_notice(facts: NoticeFacts) -> str:
    institution = facts.subject_kind == "institution"
    return (
        _environment()
        .get_template("notice.zh.txt.j2")
        .render(
            title=TITLES[facts.list_type],
            subject_label="当事单位" if institution else "当事人",
            subject_kind_word="单位" if institution else "",
            subject_name=facts.subject_name,
            subject_code=facts.subject_code,
            subject_code_label="统一社会信用代码",
            reason=facts.reason,
            basis=facts.basis,
            list_name=LIST_NAMES[facts.list_type],
            measures=facts.measures,
            duration_months=facts.duration_months,
            working_days=facts.working_days,
            deadline_text=_chinese_date(facts.deadline),
            by_fallback=facts.by_fallback,
            authority=facts.authority,
            notice_date_text=_chinese_date(facts.notice_date),
            entry_id=facts.entry_id,
        )
    )
