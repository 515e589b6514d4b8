"""The pure credit engine under the default policy: thresholds, caps, decay, knowledge, lifts."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import DETAILS_BY_KIND

from service.clock import Moment
from service.credit.engine import DeficiencyFact, Fact, assess
from service.policy.load import shipped_policy

POLICY = shipped_policy()
AS_OF = date(2026, 11, 23)
NOW = Moment.of(AS_OF, datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
CONFIRMED = datetime(2026, 1, 1, tzinfo=UTC)


def fact(
    kind: str, details: dict[str, Any], occurred: date = date(2026, 10, 1), **extra: Any
) -> Fact:
    values: dict[str, Any] = {
        "record_id": uuid.uuid4(),
        "kind": kind,
        "occurred_on": occurred,
        "confirmed_at": CONFIRMED,
        "ended_at": None,
        "details": details,
    }
    values.update(extra)
    return Fact(**values)


def penalty(
    severity: str,
    occurred: date = date(2026, 10, 1),
    *,
    category: str | None = None,
    confirmed_at: datetime = CONFIRMED,
    ended_at: datetime | None = None,
) -> Fact:
    details = {"severity": severity, "penalty_kinds": ["fine"], "violation_category": category}
    return fact("penalty", details, occurred, confirmed_at=confirmed_at, ended_at=ended_at)


def inspection(*deficiencies: DeficiencyFact, occurred: date = date(2026, 10, 1)) -> Fact:
    return fact("inspection", {}, occurred, deficiencies=deficiencies)


def deficiency(severity: str, scope: str = "isolated", **extra: Any) -> DeficiencyFact:
    return DeficiencyFact(id=uuid.uuid4(), severity=severity, scope=scope, **extra)


def rectified(severity: str, on: date, deadline: date) -> DeficiencyFact:
    return deficiency(
        severity,
        rectification_deadline=deadline,
        rectified_on=on,
        rectification_recorded_at=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
    )


def test_a_subject_without_facts_has_the_full_score_and_the_best_grade() -> None:
    result = assess([], POLICY, NOW)
    assert (result.score, result.grade, result.lift) == (Decimal(100), "A", None)
    assert result.next_change_on is None


def test_each_grade_threshold_is_inclusive_at_its_minimum() -> None:
    half = rectified("minor", date(2026, 10, 2), date(2026, 10, 10))  # 1 point, halved
    cases = [
        ([penalty("minor"), penalty("minor")], Decimal(90), "A"),
        ([penalty("minor"), penalty("minor"), inspection(half)], Decimal("89.5"), "B"),
        ([penalty("general"), penalty("general")], Decimal(70), "B"),
        ([penalty("general"), penalty("general"), inspection(half)], Decimal("69.5"), "C"),
        ([penalty("serious"), penalty("serious")], Decimal(40), "C"),
        ([penalty("serious"), penalty("serious"), inspection(half)], Decimal("39.5"), "D"),
    ]
    for facts, score, grade in cases:
        result = assess(facts, POLICY, NOW)
        assert (result.score, result.grade) == (score, grade)


def test_abuse_with_actual_harm_sets_grade_d_whatever_the_score() -> None:
    abuse = fact("abuse_finding", {"category": "physical", "harm": "actual"})
    result = assess([abuse], POLICY, NOW)
    assert result.score == Decimal(60)
    assert result.grade_by_score == "C"
    assert result.grade == "D"
    assert result.contributions[0].code == "ABUSE_ACTUAL_HARM"
    assert result.lift is not None
    assert result.lift.held_by_caps == (abuse.record_id,)
    potential = fact("abuse_finding", {"category": "neglect", "harm": "potential"})
    assert assess([potential], POLICY, NOW).grade == "B"


def test_subsidy_fraud_and_obstruction_set_grade_d() -> None:
    for category in ("subsidy_fraud", "obstructing_inspection"):
        result = assess([penalty("minor", category=category)], POLICY, NOW)
        assert result.grade == "D", category


def test_deficiency_points_follow_the_grid_and_rectification() -> None:
    open_serious = deficiency("serious", "pattern", rectification_deadline=date(2026, 12, 1))
    on_time = rectified("general", date(2026, 10, 5), deadline=date(2026, 10, 15))
    late = rectified("critical", date(2026, 11, 1), deadline=date(2026, 10, 15))
    result = assess([inspection(open_serious, on_time, late)], POLICY, NOW)
    points = {
        part.deficiency_id: (part.points, part.rectification) for part in result.contributions
    }
    assert points[open_serious.id] == (Decimal(35), "open")
    assert points[on_time.id] == (Decimal(2), "in_time")
    assert points[late.id] == (Decimal("37.50"), "late")
    assert result.score == Decimal("25.50")


def test_facts_stop_counting_when_their_class_window_ends() -> None:
    complaint = fact("complaint", {"outcome": "substantiated"}, date(2025, 11, 23))
    assert assess([complaint], POLICY, NOW).score == Decimal(100)  # 12 months are over
    recent = fact("complaint", {"outcome": "substantiated"}, date(2025, 11, 24))
    result = assess([recent], POLICY, NOW)
    assert result.score == Decimal(95)
    assert result.contributions[0].stops_counting_on == date(2026, 11, 24)
    assert result.next_change_on == date(2026, 11, 24)
    unfounded = fact("complaint", {"outcome": "unfounded"})
    assert assess([unfounded], POLICY, NOW).contributions == ()


def test_a_past_date_uses_only_what_was_known_then() -> None:
    day = date(2026, 6, 30)
    then = Moment.of(day, datetime(2026, 11, 23, tzinfo=UTC))
    later = penalty("serious", date(2026, 6, 1), confirmed_at=datetime(2026, 7, 2, tzinfo=UTC))
    known = penalty("general", date(2026, 6, 1))
    revoked_after = penalty("general", date(2026, 6, 1), ended_at=datetime(2026, 8, 1, tzinfo=UTC))
    result = assess([later, known, revoked_after], POLICY, then)
    assert result.score == Decimal(70)
    assert assess([later, known, revoked_after], POLICY, NOW).score == Decimal(55)


def test_the_lift_names_what_must_expire_and_when() -> None:
    old = penalty("serious", date(2024, 3, 1))  # counts until 2027-03-01
    newer = penalty("general", date(2026, 5, 1))  # counts until 2027-05-01
    result = assess([old, newer], POLICY, NOW)
    assert (result.score, result.grade) == (Decimal(55), "C")
    lift = result.lift
    assert lift is not None
    assert (lift.grade, lift.points_short) == ("B", Decimal(15))
    assert lift.lifts_on == date(2027, 3, 1)
    assert [part.record_id for part in lift.by_expiry] == [old.record_id]
    assert lift.by_rectification == ()


def test_the_lift_names_deficiencies_whose_rectification_suffices() -> None:
    big = deficiency("serious", "widespread", rectification_deadline=date(2026, 12, 31))
    small = deficiency("general", "isolated", rectification_deadline=date(2026, 12, 31))
    result = assess([inspection(big, small)], POLICY, NOW)
    assert (result.score, result.grade) == (Decimal(51), "C")
    assert result.lift is not None
    assert [part.deficiency_id for part in result.lift.by_rectification] == [big.id]
    assert result.lift.lifts_on == date(2029, 10, 1)


# Properties over arbitrary facts


days = st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 11, 1))


@st.composite
def deficiencies(draw: st.DrawFn, occurred: date) -> DeficiencyFact:
    deadline = occurred + timedelta(days=draw(st.integers(1, 90)))
    rectified_on = draw(st.none() | st.just(occurred + timedelta(days=draw(st.integers(0, 200)))))
    return DeficiencyFact(
        id=uuid.uuid4(),
        severity=draw(st.sampled_from(["minor", "general", "serious", "critical"])),
        scope=draw(st.sampled_from(["isolated", "pattern", "widespread"])),
        rectification_deadline=deadline,
        rectified_on=rectified_on,
        rectification_recorded_at=(
            datetime.combine(rectified_on, datetime.min.time(), tzinfo=UTC)
            if rectified_on
            else None
        ),
    )


@st.composite
def facts(draw: st.DrawFn) -> Fact:
    occurred = draw(days)
    kind = draw(
        st.sampled_from(["inspection", "complaint", "abuse_finding", "penalty", "commendation"])
    )
    confirmed = datetime.combine(occurred, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    if kind == "inspection":
        found = tuple(draw(st.lists(deficiencies(occurred), max_size=4)))
        return Fact(uuid.uuid4(), kind, occurred, confirmed, None, {}, found)
    return Fact(uuid.uuid4(), kind, occurred, confirmed, None, draw(DETAILS_BY_KIND[kind]))


def at(day: date) -> Moment:
    return Moment.of(day, datetime(2030, 1, 1, tzinfo=UTC))


@settings(max_examples=300)
@given(
    existing=st.lists(facts(), max_size=12),
    new=facts(),
    day=st.dates(date(2026, 11, 2), date(2028, 1, 1)),
)
def test_a_new_negative_fact_never_raises_a_score(
    existing: list[Fact], new: Fact, day: date
) -> None:
    before = assess(existing, POLICY, at(day))
    after = assess([*existing, new], POLICY, at(day))
    assert after.score <= before.score
    assert POLICY.at_least(before.grade, after.grade)


@settings(max_examples=300)
@given(
    known=st.lists(facts(), max_size=12),
    first=st.dates(date(2026, 11, 2), date(2028, 1, 1)),
    gap=st.integers(0, 2000),
)
def test_time_passing_without_new_facts_never_lowers_a_score(
    known: list[Fact], first: date, gap: int
) -> None:
    earlier = assess(known, POLICY, at(first))
    later = assess(known, POLICY, at(first + timedelta(days=gap)))
    assert later.score >= earlier.score
    assert POLICY.at_least(later.grade, earlier.grade)


@given(known=st.lists(facts(), max_size=12), day=st.dates(date(2026, 11, 2), date(2028, 1, 1)))
def test_the_same_facts_give_the_same_answer_in_any_order(known: list[Fact], day: date) -> None:
    forward = assess(known, POLICY, at(day))
    backward = assess(list(reversed(known)), POLICY, at(day))
    assert forward == backward
    assert forward == assess(known, POLICY, at(day))


def known_then(facts: list[Fact], moment: Moment) -> list[Fact]:
    """The facts as known at a moment: nothing confirmed or rectified later."""
    frozen = []
    for fact in facts:
        if fact.confirmed_at > moment.known_at:
            continue
        deficiencies = tuple(
            d
            if d.rectification_recorded_at is None or d.rectification_recorded_at <= moment.known_at
            else replace(d, rectified_on=None, rectification_recorded_at=None)
            for d in fact.deficiencies
        )
        frozen.append(replace(fact, deficiencies=deficiencies))
    return frozen


@given(known=st.lists(facts(), max_size=12), day=st.dates(date(2026, 11, 2), date(2028, 1, 1)))
def test_the_lift_date_is_when_the_grade_rises_if_nothing_new_happens(
    known: list[Fact], day: date
) -> None:
    moment = Moment.of(day, datetime.combine(day, datetime.max.time(), tzinfo=UTC))
    facts = known_then(known, moment)
    result = assess(facts, POLICY, moment)
    if result.lift is None or result.lift.lifts_on is None:
        return
    lifted, target = result.lift.lifts_on, result.lift.grade
    assert not POLICY.at_least(assess(facts, POLICY, at(lifted - timedelta(days=1))).grade, target)
    assert POLICY.at_least(assess(facts, POLICY, at(lifted)).grade, target)
