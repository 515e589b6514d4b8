"""Star linkage: the stars shown and used, from the assessed level, the grade and the lists."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from service.policy.model import Policy


@dataclass(frozen=True, slots=True)
class Stars:
    assessed: int | None  # the level of the rating in force, if any
    effective: int | None  # what is shown and used: capped by grade, None when suspended
    suspended: bool
    capped: bool


def effective_stars(
    assessed: int | None, grade: str, lists: Collection[str], policy: Policy
) -> Stars:
    if assessed is None:
        return Stars(None, None, suspended=False, capped=False)
    if any(measure.suspends_stars for measure in policy.measures_of(lists)):
        return Stars(assessed, None, suspended=True, capped=False)
    cap = policy.stars.cap_by_grade.get(grade)
    effective = assessed if cap is None else min(assessed, cap)
    return Stars(assessed, effective, suspended=False, capped=effective < assessed)
