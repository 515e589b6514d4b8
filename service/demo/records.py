"""Synthetic records for the demo province: inspections, complaints, abuse findings,
penalties and commendations, with the proportions a regulator would recognise.

Pure like the province generator: one ``random.Random(seed)``, no database, no clock.
Bodies are shaped like API requests; subjects are indexes into the province, so the
seeder fills in ids. Every body passes the records rules (a test checks it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from service.demo.province import REFERENCE_DATE, DemoProvince, civil_affairs_bureau, county_name
from service.facts.kinds import (
    AbuseCategory,
    CommendationLevel,
    ComplaintCategory,
    ComplaintChannel,
    DeficiencyScope,
    DeficiencySeverity,
    InspectionType,
    RecordKind,
)

EARLIEST = date(2024, 1, 1)

_DEFICIENCIES = (
    ("FS-01", "消防通道堆放杂物"),
    ("FS-02", "灭火器过期未更换"),
    ("FS-05", "夜间值班人员不足"),
    ("CR-03", "护理记录缺签、漏记"),
    ("CR-07", "未按规定开展入院评估"),
    ("FD-02", "食品留样不足48小时"),
    ("MD-04", "药品混放，未分类管理"),
    ("HR-01", "护理员未经岗前培训上岗"),
    ("EN-02", "卫生间未设扶手及呼叫装置"),
    ("FN-01", "收费项目未公示"),
)
_VIOLATIONS = (
    (
        "未按规定开展消防安全检查",
        "消防通道长期堵塞，整改期满仍未整改",
        "《养老机构管理办法》第四十六条",
    ),
    ("向老年人收取费用未公示", "擅自增加收费项目且未公示", "《养老机构管理办法》第四十六条"),
    ("配备的护理人员不符合规定", "护理员与失能老人配比低于标准", "《养老机构管理办法》第四十六条"),
)
_AWARDS = (
    ("浙江省示范养老机构", CommendationLevel.PROVINCIAL, "浙江省民政厅"),
    ("市级星级养老服务先进单位", CommendationLevel.MUNICIPAL, None),
    ("县级敬老爱老先进集体", CommendationLevel.COUNTY, None),
)


@dataclass(frozen=True, slots=True)
class DemoRecord:
    institution_index: int | None
    practitioner_index: int | None
    body: dict[str, Any] = field(default_factory=dict)


def _day(rng: random.Random, start: date = EARLIEST, end: date = REFERENCE_DATE) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _inspection(rng: random.Random, region: str, number: int) -> dict[str, Any]:
    held = _day(rng)
    deficiencies = []
    for code, item in rng.sample(
        _DEFICIENCIES, k=rng.choices((0, 1, 2, 3, 4), (30, 30, 20, 12, 8))[0]
    ):
        severity = rng.choices(list(DeficiencySeverity), (50, 30, 15, 5))[0]
        deadline = held + timedelta(days=rng.choice((7, 15, 30, 60)))
        rectified = None
        if rng.random() < 0.75:
            rectified = held + timedelta(days=rng.randint(1, (deadline - held).days + 20))
            rectified = min(rectified, REFERENCE_DATE)
        deficiencies.append(
            {
                "item": item,
                "code": code,
                "severity": severity.value,
                "scope": rng.choices(list(DeficiencyScope), (60, 30, 10))[0].value,
                "rectification_deadline": deadline.isoformat(),
                "rectified_on": rectified.isoformat() if rectified else None,
            }
        )
    inspection_type = rng.choices(list(InspectionType), (45, 35, 12, 8))[0]
    return {
        "kind": RecordKind.INSPECTION.value,
        "occurred_on": held.isoformat(),
        "document_no": f"{county_name(region)[:2]}民检〔{held.year}〕{number}号",
        "details": {
            "inspection_type": inspection_type.value,
            "inspectors": rng.sample(["王建国", "李红", "陈志强", "周敏", "吴海燕", "郑伟"], k=2),
            "summary": "双随机一公开抽查" if inspection_type == InspectionType.RANDOM else "",
        },
        "deficiencies": deficiencies,
    }


def _complaint(rng: random.Random) -> dict[str, Any]:
    return {
        "kind": RecordKind.COMPLAINT.value,
        "occurred_on": _day(rng).isoformat(),
        "details": {
            "channel": rng.choices(list(ComplaintChannel), (40, 20, 5, 10, 15, 3, 7))[0].value,
            "category": rng.choice(list(ComplaintCategory)).value,
            "outcome": rng.choices(("substantiated", "unsubstantiated", "unfounded"), (35, 40, 25))[
                0
            ],
        },
    }


def _abuse(rng: random.Random) -> dict[str, Any]:
    return {
        "kind": RecordKind.ABUSE_FINDING.value,
        "occurred_on": _day(rng).isoformat(),
        "legal_basis": "《老年人权益保障法》第七十六条",
        "details": {
            "category": rng.choices(list(AbuseCategory), (35, 20, 35, 10))[0].value,
            "harm": rng.choices(("actual", "potential"), (40, 60))[0],
        },
    }


def _penalty(rng: random.Random, region: str, number: int) -> dict[str, Any]:
    decided = _day(rng, date(2025, 1, 1))
    violation, facts, basis = rng.choice(_VIOLATIONS)
    authority, authority_uscc = civil_affairs_bureau(region)
    warning_only = rng.random() < 0.3
    fine = rng.choice((2000, 5000, 10000, 20000, 30000))
    return {
        "kind": RecordKind.PENALTY.value,
        "occurred_on": decided.isoformat(),
        "document_no": f"{county_name(region)[:2]}民罚〔{decided.year}〕{number}号",
        "legal_basis": basis,
        "details": {
            "violation_type": violation,
            "violation_facts": facts,
            "penalty_kinds": ["warning"] if warning_only else ["fine"],
            "content": "警告" if warning_only else f"罚款人民币{fine}元",
            "severity": rng.choices(("minor", "general", "serious"), (30, 55, 15))[0],
            "fine_amount": None if warning_only else str(fine),
            "authority_name": authority,
            "authority_uscc": authority_uscc,
        },
    }


def _commendation(rng: random.Random, region: str) -> dict[str, Any]:
    title, level, body = rng.choice(_AWARDS)
    return {
        "kind": RecordKind.COMMENDATION.value,
        "occurred_on": _day(rng).isoformat(),
        "details": {
            "title": title,
            "awarding_body": body or f"{county_name(region)}人民政府",
            "level": level.value,
        },
    }


def generate_demo_records(seed: int, province: DemoProvince) -> list[DemoRecord]:
    """Records for each institution of a generated province (and some of its staff)."""
    rng = random.Random(f"records-{seed}")
    staff: dict[int, list[int]] = {}
    for link in province.employments:
        if link.end_date is None:
            staff.setdefault(link.institution_index, []).append(link.practitioner_index)
    records: list[DemoRecord] = []
    for index, institution in enumerate(province.institutions):
        region = institution.region_code
        for _ in range(rng.choices((0, 1, 2, 3), (10, 45, 35, 10))[0]):
            records.append(DemoRecord(index, None, _inspection(rng, region, len(records) + 1)))
        for _ in range(rng.choices((0, 1, 2, 3), (55, 25, 12, 8))[0]):
            records.append(DemoRecord(index, None, _complaint(rng)))
        if rng.random() < 0.04:
            worker = rng.choice(staff[index]) if staff.get(index) else None
            records.append(DemoRecord(index, worker, _abuse(rng)))
        if rng.random() < 0.10:
            records.append(DemoRecord(index, None, _penalty(rng, region, len(records) + 1)))
        if rng.random() < 0.12:
            records.append(DemoRecord(index, None, _commendation(rng, region)))
    return records
