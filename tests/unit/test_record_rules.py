"""The pure rules of records: subjects per kind, dates, amounts, publication periods."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest
from factories import abuse_body, complaint_body, inspection_body, penalty_body, penalty_details
from hypothesis import given
from hypothesis import strategies as st

from service.dates import add_months
from service.events import NO_STEPS
from service.facts.details import PenaltyDetails
from service.facts.details import penalty_details as stored_penalty
from service.facts.kinds import SUBJECT_RULES, PenaltyKind, RecordKind
from service.policy.document import Policy
from service.policy.load import DEFAULT_POLICY_FILE, PolicyError, parse_policy, shipped_policy
from service.records.disclosure import Window, publication_window
from service.records.models import Deficiency, Record
from service.records.rules import check_record, publication_end
from service.records.schemas import RecordIn
from service.records.service import Subjects, deficiency_rows, record_row
from service.registry.models import Institution
from service.wiring import system_context

TODAY = date(2026, 11, 23)
HOME, PERSON = str(uuid.uuid4()), str(uuid.uuid4())


def fields(data: dict[str, Any]) -> list[str]:
    return [error.field for error in check_record(msgspec.convert(data, RecordIn), TODAY)]


def test_a_valid_body_of_each_kind_breaks_no_rule() -> None:
    for data in (
        inspection_body(HOME),
        complaint_body(HOME),
        abuse_body(HOME, PERSON),
        penalty_body(HOME),
    ):
        assert fields(data) == []


@pytest.mark.parametrize("kind", list(RecordKind))
@pytest.mark.parametrize("institution", [True, False])
@pytest.mark.parametrize("practitioner", [True, False])
def test_the_subject_rule_of_each_kind_is_the_documented_one(
    kind: RecordKind, institution: bool, practitioner: bool
) -> None:
    allowed = {
        RecordKind.INSPECTION: {(True, False)},
        RecordKind.COMPLAINT: {(True, False), (True, True)},
        RecordKind.ABUSE_FINDING: {(True, False), (False, True), (True, True)},
        RecordKind.PENALTY: {(True, False), (False, True)},
        RecordKind.COMMENDATION: {(True, False), (False, True)},
    }[kind]
    assert SUBJECT_RULES[kind].allows(institution, practitioner) == (
        (institution, practitioner) in allowed
    )


def test_deficiency_dates_are_checked_against_the_inspection() -> None:
    data = inspection_body(HOME)
    data["deficiencies"][0]["rectification_deadline"] = "2026-03-01"
    data["deficiencies"][1]["rectified_on"] = "2026-12-01"
    assert fields(data) == [
        "deficiencies[0].rectification_deadline",
        "deficiencies[1].rectified_on",
    ]


@pytest.mark.parametrize(
    ("amount", "ok"),
    [("0.01", True), ("5000", True), ("12.345", False), ("-1", False), ("NaN", False)],
)
def test_a_fine_is_yuan_and_fen(amount: str, ok: bool) -> None:
    data = penalty_body(HOME, details=penalty_details(fine_amount=amount))
    assert (fields(data) == []) == ok


def test_a_fine_without_an_amount_is_refused() -> None:
    data = penalty_body(HOME, details=penalty_details(fine_amount=None))
    assert fields(data) == ["details.fine_amount"]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 6, 1), 36, date(2029, 6, 1)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_months_are_added_the_way_a_clerk_counts_them(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    months=st.integers(0, 120),
)
def test_adding_months_never_goes_back_and_lands_in_the_right_month(day: date, months: int) -> None:
    later = add_months(day, months)
    assert later >= day
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months


def details(**overrides: Any) -> PenaltyDetails:
    return msgspec.convert(penalty_details(**overrides), PenaltyDetails)


def test_the_publication_period_follows_the_policy_unless_decided() -> None:
    policy = shipped_policy()
    decided = date(2026, 6, 1)
    assert publication_end(details(severity="minor"), decided, policy) == date(2026, 9, 1)
    assert publication_end(details(severity="serious"), decided, policy) == date(2029, 6, 1)
    chosen = details(publication_end_date="2027-01-01")
    assert publication_end(chosen, decided, policy) == date(2027, 1, 1)


def test_only_a_penalty_that_is_no_more_than_a_warning_stays_unpublished() -> None:
    disclosure = shipped_policy().disclosure
    assert not disclosure.is_published(frozenset({PenaltyKind.WARNING}))
    assert disclosure.is_published(frozenset({PenaltyKind.WARNING, PenaltyKind.FINE}))
    assert disclosure.is_published(frozenset({PenaltyKind.LICENCE_REVOCATION}))


def penalty_record(**overrides: Any) -> Record:
    values: dict[str, Any] = {
        "kind": "penalty",
        "status": "confirmed",
        "chain_id": uuid.uuid4(),
        "region_code": "330522",
        "occurred_on": date(2026, 6, 1),
        "details": penalty_details(publication_end_date="2026-09-01"),
        "confirmed_at": datetime(2026, 6, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return Record(**values)


def window(record: Record, policy: Policy) -> Window | None:
    return publication_window(record, stored_penalty(record.details), policy)


def test_a_window_ends_at_the_earliest_of_end_correction_and_revocation() -> None:
    policy = shipped_policy()
    plain = window(penalty_record(), policy)
    assert plain is not None
    assert plain.withdrawn_at == datetime(2026, 9, 1, 16, 0, tzinfo=UTC)  # 2 Sep, 00:00 China
    assert plain.reason == "publication_ended"
    revoked = window(
        penalty_record(status="revoked", revoked_at=datetime(2026, 7, 1, tzinfo=UTC)), policy
    )
    assert revoked is not None
    assert (revoked.withdrawn_at.month, revoked.reason) == (7, "revoked")
    corrected = window(
        penalty_record(status="superseded", superseded_at=datetime(2026, 6, 5, tzinfo=UTC)), policy
    )
    assert corrected is not None
    assert corrected.reason == "corrected"


def test_a_penalty_recorded_after_its_period_or_only_a_warning_is_never_published() -> None:
    policy = shipped_policy()
    late = penalty_record(confirmed_at=datetime(2026, 10, 1, tzinfo=UTC))
    assert window(late, policy) is None
    warning = penalty_record(
        details=penalty_details(penalty_kinds=["warning"], publication_end_date="2029-01-01")
    )
    assert window(warning, policy) is None
    assert window(penalty_record(status="draft", confirmed_at=None), policy) is None


def test_a_policy_error_names_the_line_or_the_key() -> None:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    with pytest.raises(PolicyError, match="line"):
        parse_policy(text + "\n[broken\n")
    with pytest.raises(PolicyError, match=r"\$\.disclosure\.publication_months\.minor"):
        parse_policy(text.replace("{ minor = 3,", '{ minor = "three",'))
    with pytest.raises(PolicyError, match="unpublished_penalty_kinds"):
        parse_policy(text.replace('["warning"]', '["scolding"]'))


def test_a_plain_row_is_exactly_what_the_model_stores() -> None:
    home = Institution(name="颐养院", uscc="x", region_code="330522", kind="residential")
    ctx = system_context(clock=lambda: datetime(2026, 11, 23, tzinfo=UTC), pipeline=NO_STEPS)
    inspection = msgspec.convert(inspection_body(str(home.id)), RecordIn)
    row = record_row(inspection, Subjects(home, None), ctx, shipped_policy())
    assert Record(**row).model_dump() == row
    for deficiency in deficiency_rows(inspection, row["id"], ctx):
        assert Deficiency(**deficiency).model_dump() == deficiency
