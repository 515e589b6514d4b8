"""Valid test data: codes with correct check characters, bodies the API accepts."""

from __future__ import annotations

from typing import Any

from service.registry.identifiers import (
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
