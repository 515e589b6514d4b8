"""What the reviewers' queue waits for, when it is due, and which steps a person is offered
(service.listing.queue), without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from service.actor import Actor, Role
from service.errors import Invalid
from service.listing.machine import Action
from service.listing.models import ListEntry, RepairApplication
from service.listing.queue import Due, _due, open_steps, queue_filter, working_days_until
from service.policy.document import Calendar

CALENDAR = Calendar()
PROPOSER = uuid.uuid4()
ME = Actor(uuid.uuid4(), Role.REVIEWER, "3305")


def entry(status: str, **fields: Any) -> ListEntry:
    values: dict[str, Any] = {
        "list_type": "black", "subject_kind": "institution", "subject_id": uuid.uuid4(),
        "region_code": "330522", "status": status, "reason_code": "ABUSE_ACTUAL_HARM",
        "proposed_by": PROPOSER, "proposed_at": datetime(2025, 9, 26, 2, tzinfo=UTC),
    }  # fmt: skip
    return ListEntry(**(values | fields))


def test_working_days_skip_national_day_and_count_the_worked_weekend() -> None:
    # 28, 29, 30 September (28th a worked Sunday), then 9 and 10 October.
    assert working_days_until(date(2025, 9, 26), date(2025, 10, 10), CALENDAR) == 5
    assert working_days_until(date(2025, 10, 10), date(2025, 9, 26), CALENDAR) == -5
    assert working_days_until(date(2025, 10, 10), date(2025, 10, 10), CALENDAR) == 0


@pytest.mark.parametrize(
    ("status", "fields", "today", "expected"),
    [
        ("proposed", {}, date(2025, 12, 1), (Due.NOTICE, date(2025, 9, 26))),
        ("notified", {"objection_deadline": date(2025, 10, 10)}, date(2025, 10, 10),
         (Due.OBJECTION_WINDOW, date(2025, 10, 10))),
        # The window over (a Friday): the decision is due the next working day, here the
        # Saturday worked after National Day (调休).
        ("notified", {"objection_deadline": date(2025, 10, 10)}, date(2025, 10, 11),
         (Due.DECISION, date(2025, 10, 11))),
        ("objected", {"objection_deadline": date(2025, 10, 10)}, date(2025, 10, 1),
         (Due.OBJECTION_RULING, date(2025, 10, 11))),
        ("objection_rejected", {"objection_deadline": date(2025, 10, 17)}, date(2025, 10, 1),
         (Due.DECISION, date(2025, 10, 20))),
        ("listed", {"publish_by": date(2025, 10, 21)}, date(2025, 10, 1),
         (Due.PUBLICATION, date(2025, 10, 21))),
    ],
)  # fmt: skip
def test_each_status_waits_for_one_thing_due_on_one_day(
    status: str, fields: dict[str, Any], today: date, expected: tuple[Due, date]
) -> None:
    assert _due(entry(status, **fields), None, today, CALENDAR) == expected


def test_a_published_entry_waits_only_for_a_repair_review() -> None:
    published = entry("published", published_at=datetime(2023, 1, 1, tzinfo=UTC))
    assert _due(published, date(2025, 3, 3), date(2025, 3, 5), CALENDAR) == (
        Due.REPAIR_REVIEW,
        date(2025, 3, 3),
    )


def test_the_proposer_is_offered_no_ruling() -> None:
    mine = entry("objected", objection_deadline=date(2025, 10, 10))
    proposer = Actor(PROPOSER, Role.REVIEWER, "3305")
    offered = open_steps(proposer, mine, date(2025, 10, 11))
    assert offered.steps == []
    assert offered.withheld == "four_eyes"
    assert open_steps(ME, mine, date(2025, 10, 11)).steps == [
        Action.UPHOLD_OBJECTION,
        Action.REJECT_OBJECTION,
    ]


def test_no_decision_is_offered_while_the_subject_may_object() -> None:
    waiting = entry("notified", objection_deadline=date(2025, 10, 10))
    during = open_steps(ME, waiting, date(2025, 10, 10))
    assert during.steps == [Action.OBJECT, Action.WITHDRAW]
    assert (during.withheld, during.window_ends) == ("objection_window", date(2025, 10, 10))
    after = open_steps(ME, waiting, date(2025, 10, 11))
    assert Action.DECIDE_LIST in after.steps
    assert after.withheld is None


def test_roles_and_regions_limit_the_steps() -> None:
    waiting = entry("notified", objection_deadline=date(2025, 10, 10))
    inspector = Actor(uuid.uuid4(), Role.INSPECTOR, "3305")
    assert open_steps(inspector, waiting, date(2025, 10, 11)).steps == [
        Action.OBJECT,
        Action.WITHDRAW,
    ]
    elsewhere = Actor(uuid.uuid4(), Role.REVIEWER, "3301")
    assert open_steps(elsewhere, waiting, date(2025, 10, 11)).steps == []
    admin = Actor(uuid.uuid4(), Role.ADMIN)
    listed = entry("listed", publish_by=date(2025, 10, 21))
    assert open_steps(admin, listed, date(2025, 10, 11)).steps == [Action.PUBLISH]


def test_a_repair_application_is_reviewed_by_someone_who_did_not_record_it() -> None:
    published = entry("published", published_at=datetime(2023, 1, 1, tzinfo=UTC))
    recorded = RepairApplication(
        entry_id=published.id, filed_on=date(2025, 3, 3), evidence="整改报告",
        obligations_fulfilled=True, public_commitment="承诺", recorded_by=ME.user_id,
    )  # fmt: skip
    mine = open_steps(ME, published, date(2025, 3, 5), [recorded])
    assert mine.repair_review == frozenset()
    assert mine.repair_application is False  # one is already waiting
    other = Actor(uuid.uuid4(), Role.REVIEWER, "3305")
    assert open_steps(other, published, date(2025, 3, 5), [recorded]).repair_review == {recorded.id}
    assert open_steps(other, published, date(2025, 3, 5)).repair_application is True


@pytest.mark.parametrize(
    ("list_type", "status", "field"),
    [("purple", "", "list_type"), ("", "dismissed", "status"), ("", "whatever", "status")],
)
def test_a_filter_outside_the_lists_and_waiting_statuses_is_refused_by_name(
    list_type: str, status: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        queue_filter(list_type, status, None)
    assert refused.value.errors[0].field == field


def test_blank_filters_are_no_filters() -> None:
    wanted = queue_filter(" ", "", "  3305 ")
    assert (wanted.list_type, wanted.status, wanted.region) == (None, None, "3305")
