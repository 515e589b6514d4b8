"""What the documents to a subject say about the facts behind an entry, in Chinese."""

from __future__ import annotations

from datetime import date

from service.facts.details import (
    AbuseFindingDetails,
    CommendationDetails,
    ComplaintDetails,
    InspectionDetails,
    PenaltyDetails,
    read_details,
)
from service.facts.kinds import RECORD_KIND_ZH, RecordKind
from service.records.models import Record


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


def record_facts_zh(record: Record) -> str:
    """'2025年1月5日，欺老虐老行为认定（文号：…）认定：…': what happened, when, under which number."""
    text = f"{chinese_date(record.occurred_on)}，{RECORD_KIND_ZH[RecordKind(record.kind)]}"
    if record.document_no:
        text += f"（文号：{record.document_no}）"
    if narrative := _narrative(record).strip().rstrip("。"):
        text += f"认定：{narrative}"
    return text
