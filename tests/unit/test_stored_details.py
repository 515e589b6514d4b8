"""A record's stored details are read back as its kind's struct, never by string key."""

from __future__ import annotations

import ast
import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from factories import (
    abuse_body,
    commendation_body,
    complaint_body,
    inspection_body,
    penalty_body,
    penalty_details,
)

import service
from service.facts.details import DETAILS_OF_KIND, PenaltyDetails, read_details
from service.facts.kinds import PenaltyKind, RecordKind
from service.policy.load import shipped_policy
from service.records.rules import stored_details
from service.records.schemas import RecordIn

HOME, PERSON = str(uuid.uuid4()), str(uuid.uuid4())
BODIES = {
    RecordKind.INSPECTION: inspection_body(HOME),
    RecordKind.COMPLAINT: complaint_body(HOME),
    RecordKind.ABUSE_FINDING: abuse_body(HOME, PERSON),
    RecordKind.PENALTY: penalty_body(HOME),
    RecordKind.COMMENDATION: commendation_body(HOME),
}


def as_jsonb(stored: dict[str, Any]) -> Any:
    """What PostgreSQL hands back: the stored details through JSON."""
    return json.loads(json.dumps(stored))


@pytest.mark.parametrize("kind", list(RecordKind))
def test_stored_details_read_back_as_the_struct_that_was_sent(kind: RecordKind) -> None:
    body = msgspec.convert(BODIES[kind], RecordIn)
    read = read_details(kind, as_jsonb(stored_details(body, shipped_policy())))
    assert type(read) is DETAILS_OF_KIND[kind]
    if kind != RecordKind.PENALTY:  # a penalty is stored with its publication end filled in
        assert read == body.details


def test_a_stored_penalty_reads_back_typed_with_its_publication_end() -> None:
    sent = penalty_details(
        penalty_kinds=["fine", "confiscation"],
        confiscated_amount="1200.5",
        valid_until="2027-06-01",
    )
    body = msgspec.convert(penalty_body(HOME, details=sent), RecordIn)
    read = read_details("penalty", as_jsonb(stored_details(body, shipped_policy())))
    assert isinstance(read, PenaltyDetails)
    assert read.penalty_kinds == [PenaltyKind.FINE, PenaltyKind.CONFISCATION]
    assert (read.fine_amount, read.confiscated_amount) == (Decimal("5000.00"), Decimal("1200.5"))
    assert read.valid_until == date(2027, 6, 1)
    # A general violation decided 2026-06-01 is published for three years.
    assert read.publication_ends_on == date(2029, 6, 1)


def string_key_reads(source: str) -> list[str]:
    """`details["x"]` and `details.get("x")` on anything named details (SQL excepted)."""

    def names_details(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id == "details") or (
            isinstance(node, ast.Attribute) and node.attr == "details"
        )

    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Subscript)
            and names_details(node.value)
            and isinstance(node.slice, ast.Constant)
        ) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and names_details(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reads_stored_details_by_string_key() -> None:
    root = Path(service.__file__).parent
    reads = {
        str(path.relative_to(root)): found
        for path in sorted(root.rglob("*.py"))
        if (found := string_key_reads(path.read_text(encoding="utf-8")))
    }
    assert reads == {}, "read details through service.facts.details.read_details"


def test_the_string_key_check_finds_both_forms() -> None:
    source = 'a = record.details["x"]\nb = details.get("y")\nc = col(Record.details)["z"].astext\n'
    assert string_key_reads(source) == ["1: record.details['x']", "2: details.get('y')"]
