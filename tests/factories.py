"""Valid test data: codes with correct check characters, bodies the API accepts."""

from __future__ import annotations

from typing import Any

from service.identity.codes import (
    USCC_ALPHABET,
    id_number_with_check_digit,
    uscc_with_check_character,
)


def make_uscc(n: int, region: str = "330522", prefix: str = "52") -> str:
    serial = ""
    value = n
    for _ in range(9):
        serial = USCC_ALPHABET[value % 31] + serial
        value //= 31
    return uscc_with_check_character(prefix + region + serial)


def make_id_number(n: int, region: str = "110105", birth: str = "19800101") -> str:
    return id_number_with_check_digit(f"{region}{birth}{n % 1000:03d}")


def wrong_check_character(code: str) -> str:
    replacement = "0" if code[-1] != "0" else "1"
    return code[:-1] + replacement


def institution_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"莲都区第{n}颐养院",
        "uscc": make_uscc(n),
        "region_code": "330522",
        "kind": "residential",
        "beds": 120,
        "address": "长兴县雉城街道金陵路1号",
    }
    body.update(overrides)
    return body


def practitioner_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张晓明",
        "id_number": make_id_number(n),
        "region_code": "330522",
        "certificate_no": f"ZJ-YL-{n:06d}",
        "skill_level": "intermediate",
    }
    body.update(overrides)
    return body


AUTHORITY_USCC = uscc_with_check_character("11330522" + "002614539")


def inspection_body(institution_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "inspection",
        "institution_id": institution_id,
        "occurred_on": "2026-03-10",
        "document_no": "长民检〔2026〕7号",
        "details": {
            "inspection_type": "random",
            "inspectors": ["王建国", "李红"],
            "summary": "双随机抽查：消防与照护记录",
        },
        "deficiencies": [
            {
                "item": "消防通道堆放杂物",
                "code": "FS-03",
                "severity": "serious",
                "scope": "pattern",
                "rectification_deadline": "2026-03-24",
            },
            {
                "item": "护理记录缺签",
                "severity": "minor",
                "scope": "isolated",
                "rectification_deadline": "2026-04-10",
                "rectified_on": "2026-03-20",
            },
        ],
    }
    body.update(overrides)
    return body


def complaint_body(institution_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "institution_id": institution_id,
        "occurred_on": "2026-04-02",
        "details": {
            "channel": "hotline_12345",
            "category": "care_quality",
            "outcome": "substantiated",
            "summary": "家属反映老人褥疮未及时处理，核查属实",
        },
    }
    body.update(overrides)
    return body


def abuse_body(
    institution_id: str | None, practitioner_id: str | None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "abuse_finding",
        "institution_id": institution_id,
        "practitioner_id": practitioner_id,
        "occurred_on": "2026-05-15",
        "legal_basis": "《老年人权益保障法》第七十六条",
        "details": {
            "category": "physical",
            "harm": "actual",
            "description": "护理员推搡老人致其跌倒",
        },
    }
    body.update(overrides)
    return body


def penalty_details(**overrides: Any) -> dict[str, Any]:
    details: dict[str, Any] = {
        "violation_type": "未按规定开展消防安全检查",
        "violation_facts": "经查，该院消防通道长期堆放杂物，整改期满仍未整改",
        "penalty_kinds": ["fine"],
        "content": "罚款人民币伍仟元",
        "severity": "general",
        "fine_amount": "5000.00",
        "authority_name": "长兴县民政局",
        "authority_uscc": AUTHORITY_USCC,
    }
    details.update(overrides)
    return details


def penalty_body(
    institution_id: str | None = None,
    practitioner_id: str | None = None,
    details: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "penalty",
        "institution_id": institution_id,
        "practitioner_id": practitioner_id,
        "occurred_on": "2026-06-01",
        "document_no": "长民罚〔2026〕3号",
        "legal_basis": "《养老机构管理办法》第四十六条",
        "details": details if details is not None else penalty_details(),
    }
    body.update(overrides)
    return body


def commendation_body(institution_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "commendation",
        "institution_id": institution_id,
        "occurred_on": "2026-01-20",
        "document_no": "浙民〔2026〕2号",
        "details": {
            "title": "浙江省示范养老机构",
            "awarding_body": "浙江省民政厅",
            "level": "provincial",
        },
    }
    body.update(overrides)
    return body


def shipped_policy_version() -> str:
    """The version of the policy this code ships (tests name it, never hard-code it)."""
    from service.policy.load import DEFAULT_POLICY_FILE, parse_policy

    return parse_policy(DEFAULT_POLICY_FILE.read_text(encoding="utf-8")).version


SHIPPED = shipped_policy_version()
