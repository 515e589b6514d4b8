"""The credit engine: (facts, policy, moment) → score, grade and an explanation of every point.

Pure: no database, no clock. A *moment* is the date asked about and the instant up to
which facts count as known, so an answer about a past date uses only what was known
then (later records, corrections and revocations do not change it).

The model, every number of which comes from the policy:
- a subject starts at ``score.start``; each fact in force takes points off;
- a deficiency of an inspection takes ``inspection.points[severity][scope]``, times a
  factor once it is known to be rectified (in time or late);
- any other record takes the points of the first ``rules`` entry that matches it;
- a fact counts from the day it happened for the months its class decays over;
- the grade is the band the score falls in, or worse while a fact with a ``grade_cap``
  counts (abuse with actual harm, subsidy fraud, obstructing inspection → D).
Nothing adds points, so a new negative fact never raises a score, and time passing
(facts expiring, rectifications taking effect) never lowers one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from service.clock import Moment
from service.dates import add_months
from service.facts.kinds import RecordKind
from service.policy.document import FactClass, Policy

DEFICIENCY_CODE = "DEFICIENCY"
INSPECTION = RecordKind.INSPECTION.value


@dataclass(frozen=True, slots=True)
class DeficiencyFact:
    id: uuid.UUID
    severity: str
    scope: str
    rectification_deadline: date | None = None
    rectified_on: date | None = None
    rectification_recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """What the engine needs of one confirmed record."""

    record_id: uuid.UUID
    kind: str
    occurred_on: date
    confirmed_at: datetime
    ended_at: datetime | None  # when it was superseded or revoked, if it was
    details: Mapping[str, Any]
    deficiencies: tuple[DeficiencyFact, ...] = ()

    def known(self, moment: Moment) -> bool:
        return (
            self.confirmed_at <= moment.known_at
            and (self.ended_at is None or self.ended_at > moment.known_at)
            and self.occurred_on <= moment.as_of
        )


@dataclass(frozen=True, slots=True)
class Contribution:
    """One fact's part in a score: what it costs, why, and until when."""

    record_id: uuid.UUID
    deficiency_id: uuid.UUID | None
    code: str
    kind: str
    points: Decimal
    fact_class: FactClass
    occurred_on: date
    stops_counting_on: date  # the first day it no longer counts
    why: str
    grade_cap: str | None = None
    rectification: str | None = None  # open, in_time or late, for deficiencies
    points_if_rectified: Decimal | None = None  # an open deficiency rectified today


@dataclass(frozen=True, slots=True)
class Lift:
    """What would take a subject to the next better grade."""

    grade: str
    needs_score: Decimal
    points_short: Decimal
    held_by_caps: tuple[uuid.UUID, ...]  # records whose grade cap holds it down
    lifts_on: date | None  # when it gets there by itself if nothing new happens
    by_expiry: tuple[Contribution, ...]  # what has to stop counting first, soonest first
    by_rectification: tuple[Contribution, ...]  # open deficiencies whose rectification suffices


@dataclass(frozen=True, slots=True)
class Assessment:
    score: Decimal
    grade: str
    grade_by_score: str
    policy_version: str
    as_of: date
    contributions: tuple[Contribution, ...]
    next_change_on: date | None  # the next day the score or grade changes by itself
    lift: Lift | None = field(default=None)


def _class_window(policy: Policy, fact_class: FactClass, occurred_on: date) -> date:
    return add_months(occurred_on, policy.decay.months(fact_class))


def expired_by(policy: Policy, as_of: date) -> date:
    """The last day a fact may have happened on and still have stopped counting by
    ``as_of`` whatever its class: loading only facts after it changes no assessment."""
    longest = max(policy.decay.minor, policy.decay.general, policy.decay.serious)
    return add_months(as_of, -longest)


def _deficiency_contribution(
    fact: Fact, deficiency: DeficiencyFact, policy: Policy, moment: Moment
) -> Contribution:
    rules = policy.inspection
    base = rules.points_for(deficiency.severity, deficiency.scope)
    fact_class = rules.class_of(deficiency.severity)
    deadline = deficiency.rectification_deadline
    rectified = (
        deficiency.rectified_on is not None
        and deficiency.rectification_recorded_at is not None
        and deficiency.rectified_on <= moment.as_of
        and deficiency.rectification_recorded_at <= moment.known_at
    )
    if rectified:
        assert deficiency.rectified_on is not None
        in_time = deadline is None or deficiency.rectified_on <= deadline
        state = "in_time" if in_time else "late"
        factor = rules.rectified_in_time_factor if in_time else rules.rectified_late_factor
        points, if_rectified = base * factor, None
    else:
        state = "open"
        in_time_today = deadline is None or moment.as_of <= deadline
        factor = rules.rectified_in_time_factor if in_time_today else rules.rectified_late_factor
        points, if_rectified = base, base * factor
    why = f"{deficiency.severity} deficiency, {deficiency.scope} ({state.replace('_', ' ')})"
    return Contribution(
        record_id=fact.record_id,
        deficiency_id=deficiency.id,
        code=DEFICIENCY_CODE,
        kind=fact.kind,
        points=points,
        fact_class=fact_class,
        occurred_on=fact.occurred_on,
        stops_counting_on=_class_window(policy, fact_class, fact.occurred_on),
        why=why,
        rectification=state,
        points_if_rectified=if_rectified,
    )


def contributions_of(fact: Fact, policy: Policy, moment: Moment) -> list[Contribution]:
    """Every part a known fact plays at a moment, including parts that have stopped counting."""
    if fact.kind == INSPECTION:  # scored deficiency by deficiency, never by rules
        return [_deficiency_contribution(fact, d, policy, moment) for d in fact.deficiencies]
    details = dict(fact.details)
    rule = next((rule for rule in policy.rules if rule.matches(fact.kind, details)), None)
    if rule is None:
        return []
    return [
        Contribution(
            record_id=fact.record_id,
            deficiency_id=None,
            code=rule.code,
            kind=fact.kind,
            points=rule.points,
            fact_class=rule.fact_class,
            occurred_on=fact.occurred_on,
            stops_counting_on=_class_window(policy, rule.fact_class, fact.occurred_on),
            why=rule.title_en,
            grade_cap=rule.grade_cap,
        )
    ]


def _score(policy: Policy, parts: Iterable[Contribution]) -> Decimal:
    deducted = sum((part.points for part in parts), Decimal(0))
    return max(policy.score.floor, policy.score.start - deducted)


def _grade(policy: Policy, score: Decimal, parts: Iterable[Contribution]) -> str:
    grade = policy.grade_for(score)
    for part in parts:
        if part.grade_cap is not None:
            grade = policy.worse(grade, part.grade_cap)
    return grade


def assess(facts: Iterable[Fact], policy: Policy, moment: Moment) -> Assessment:
    parts = [
        part
        for fact in facts
        if fact.known(moment)
        for part in contributions_of(fact, policy, moment)
        if part.stops_counting_on > moment.as_of
    ]
    parts.sort(key=lambda part: (part.stops_counting_on, -part.points, str(part.record_id)))
    score = _score(policy, parts)
    grade = _grade(policy, score, parts)
    changes = [part.stops_counting_on for part in parts if part.points or part.grade_cap]
    assessment = Assessment(
        score=score,
        grade=grade,
        grade_by_score=policy.grade_for(score),
        policy_version=policy.version,
        as_of=moment.as_of,
        contributions=tuple(parts),
        next_change_on=min(changes) if changes else None,
    )
    better = policy.next_better(grade)
    if better is None:
        return assessment
    return replace(assessment, lift=_lift(policy, parts, better.grade))


def _lift(policy: Policy, parts: Sequence[Contribution], target: str) -> Lift:
    """The counterfactual: which expiries or rectifications reach ``target``, and when."""
    band = next(band for band in policy.grades if band.grade == target)
    score = _score(policy, parts)
    short = max(Decimal(0), band.min - score)
    caps = tuple(
        dict.fromkeys(
            part.record_id
            for part in parts
            if part.grade_cap is not None and not policy.at_least(part.grade_cap, target)
        )
    )
    # Facts drop out in the order they stop counting; the grade rises once enough have.
    lifts_on, needed = None, []
    remaining = list(parts)
    for day in sorted({part.stops_counting_on for part in parts}):
        dropping = [part for part in remaining if part.stops_counting_on <= day]
        remaining = [part for part in remaining if part.stops_counting_on > day]
        needed.extend(dropping)
        if policy.at_least(_grade(policy, _score(policy, remaining), remaining), target):
            lifts_on = day
            break
    # Rectifying open deficiencies gives points back: the fewest that close the gap.
    rectifiable = sorted(
        (part for part in parts if part.points_if_rectified is not None),
        key=lambda part: part.points - (part.points_if_rectified or 0),
        reverse=True,
    )
    by_rectification: list[Contribution] = []
    regained = Decimal(0)
    if not caps and short > 0:
        for part in rectifiable:
            by_rectification.append(part)
            regained += part.points - (part.points_if_rectified or Decimal(0))
            if regained >= short:
                break
        if regained < short:
            by_rectification = []
    return Lift(
        grade=target,
        needs_score=band.min,
        points_short=short,
        held_by_caps=caps,
        lifts_on=lifts_on,
        by_expiry=tuple(needed),
        by_rectification=tuple(by_rectification),
    )
