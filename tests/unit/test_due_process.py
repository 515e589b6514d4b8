"""Due process without a database: working days, the entry state machine, repair conditions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from service.errors import Conflict
from service.listing.machine import OPEN, TRANSITIONS, Action, EntryStatus, allowed, next_status
from service.listing.models import ListEntry, RepairApplication
from service.listing.repair import unmet_conditions
from service.listing.workdays import working_days_after
from service.policy.document import Calendar
from service.policy.load import shipped_policy

POLICY = shipped_policy()


@pytest.mark.parametrize(
    ("served", "days", "deadline"),
    [
        (date(2025, 9, 26), 5, date(2025, 10, 10)),  # 28 Sept (Sunday) is worked; 1-8 Oct off
        (date(2025, 9, 30), 5, date(2025, 10, 14)),  # 11 Oct (Saturday) is worked
        (date(2026, 2, 13), 3, date(2026, 2, 25)),  # Spring Festival: 14 Feb worked, 15-23 off
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # an ordinary week
    ],
)
def test_deadlines_count_chinese_working_days(served: date, days: int, deadline: date) -> None:
    result = working_days_after(served, days, POLICY.calendar)
    assert (result.day, result.by_fallback) == (deadline, False)


def test_a_year_the_library_lacks_falls_back_to_the_policy_and_says_so() -> None:
    result = working_days_after(date(2026, 12, 30), 3, POLICY.calendar)
    assert (result.day, result.by_fallback) == (date(2027, 1, 5), True)  # 1 Jan off, weekend off
    worked_saturday = Calendar(holidays=[], workdays=[date(2027, 1, 2)])
    assert working_days_after(date(2026, 12, 31), 1, worked_saturday).day == date(2027, 1, 1)
    assert working_days_after(date(2026, 12, 31), 2, worked_saturday).day == date(2027, 1, 2)


def test_every_step_not_in_the_machine_is_refused_with_the_allowed_ones() -> None:
    for status in EntryStatus:
        for action in Action:
            if (status, action) in TRANSITIONS:
                assert next_status(status, action) == TRANSITIONS[(status, action)]
                continue
            with pytest.raises(Conflict) as refused:
                next_status(status, action)
            names = [a.value for a in allowed(status)]
            assert (", ".join(names) or "none") in refused.value.detail


def test_only_dismissed_and_ended_entries_are_closed() -> None:
    assert set(EntryStatus) - OPEN == {EntryStatus.DISMISSED, EntryStatus.ENDED}
    assert allowed(EntryStatus.ENDED) == []
    assert allowed(EntryStatus.PUBLISHED) == [Action.EXPIRE, Action.REPAIR, Action.REVOKE]


def repair_case(published: datetime, **application: Any) -> list[str]:
    entry = ListEntry(
        list_type="black", subject_kind="institution", subject_id=uuid.uuid4(),
        region_code="330522", status="published", reason_code="X", published_at=published,
    )  # fmt: skip
    values: dict[str, Any] = {
        "entry_id": entry.id, "filed_on": date(2027, 11, 1), "evidence": "整改报告",
        "obligations_fulfilled": True, "public_commitment": "承诺",
    }  # fmt: skip
    values.update(application)
    return unmet_conditions(entry, RepairApplication(**values), POLICY, date(2027, 11, 1), 0)


def test_repair_needs_two_years_obligations_and_a_commitment() -> None:
    assert repair_case(datetime(2025, 10, 14, tzinfo=UTC)) == []
    early = repair_case(datetime(2026, 1, 10, tzinfo=UTC))
    assert early == ["listed for less than 24 months: repair may be granted from 2028-01-10"]
    lacking = repair_case(
        datetime(2025, 1, 1, tzinfo=UTC), obligations_fulfilled=False, public_commitment=" "
    )
    assert len(lacking) == 2
