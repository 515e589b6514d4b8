"""Subsidy eligibility: a decision with the reasons a subsidy office can defend later.

Pure: the subject's grade, effective stars, lists and operating status in, a decision
out. What a list does comes from its measures in the policy. Every reason code is
defined in the policy, with its effect: any ``ineligible`` reason refuses, a ``review``
reason keeps the subject eligible but flags it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from service.policy.document import Policy, Program, ReasonEffect, SubjectType
from service.standing.stars import Stars


@dataclass(frozen=True, slots=True)
class Decision:
    eligible: bool
    review: bool
    reasons: tuple[str, ...]


def decide(
    program: Program,
    policy: Policy,
    *,
    subject_kind: str,
    grade: str,
    stars: Stars | None,
    lists: Collection[str],
    operating: bool,
    employs_barred: bool = False,
) -> Decision:
    rules = policy.eligibility
    reasons: list[str] = []
    if subject_kind != program.subject_kind:
        reasons.append("SUBJECT_KIND_NOT_COVERED")
    if subject_kind == SubjectType.INSTITUTION and not operating:
        reasons.append("NOT_OPERATING")
    if grade in rules.ineligible_grades:
        reasons.append("GRADE_INELIGIBLE")
    effects = {measure.subsidy for measure in policy.measures_of(lists)}
    if ReasonEffect.INELIGIBLE in effects:
        reasons.append("LISTED_INELIGIBLE")
    if program.min_stars and stars is not None:
        if stars.suspended:
            reasons.append("STARS_SUSPENDED")
        elif (stars.effective or 0) < program.min_stars:
            reasons.append("STARS_BELOW_MINIMUM")
    if ReasonEffect.REVIEW in effects:
        reasons.append("LISTED_REVIEW")
    if employs_barred:
        reasons.append("EMPLOYS_BARRED_PRACTITIONER")
    effects = {policy.reasons[code].effect for code in reasons}
    eligible = ReasonEffect.INELIGIBLE not in effects
    if eligible and not any(
        policy.reasons[code].effect == ReasonEffect.ELIGIBLE for code in reasons
    ):
        reasons.insert(0, "ELIGIBLE")
    return Decision(eligible, ReasonEffect.REVIEW in effects, tuple(reasons))
