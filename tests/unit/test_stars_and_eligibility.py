"""Star linkage and eligibility decisions under the default policy, without a database."""

from __future__ import annotations

import pytest

from service.eligibility.decisions import decide
from service.policy.load import shipped_policy
from service.standing.stars import Stars, effective_stars

POLICY = shipped_policy()
OPERATING = POLICY.program("operating_subsidy")
CONSTRUCTION = POLICY.program("construction_subsidy")
ALLOWANCE = POLICY.program("caregiver_post_allowance")


@pytest.mark.parametrize(
    ("assessed", "grade", "lists", "effective", "capped", "suspended"),
    [
        (5, "A", [], 5, False, False),
        (5, "B", [], 5, False, False),
        (5, "C", [], 3, True, False),
        (2, "C", [], 2, False, False),
        (4, "D", [], 1, True, False),
        (4, "A", ["black"], None, False, True),
        (4, "A", ["watch"], 4, False, False),
        (None, "A", [], None, False, False),
    ],
)
def test_effective_stars_follow_grade_caps_and_the_black_list(
    assessed: int | None,
    grade: str,
    lists: list[str],
    effective: int | None,
    capped: bool,
    suspended: bool,
) -> None:
    stars = effective_stars(assessed, grade, lists, POLICY)
    assert (stars.effective, stars.capped, stars.suspended) == (effective, capped, suspended)


def test_each_condition_gives_its_reason_and_effect() -> None:
    none = Stars(None, None, suspended=False, capped=False)
    three = Stars(3, 3, suspended=False, capped=False)

    def reasons(program: object, **given: object) -> tuple[bool, bool, tuple[str, ...]]:
        values = {
            "subject_kind": "institution",
            "grade": "A",
            "stars": three,
            "lists": [],
            "operating": True,
        }
        values.update(given)
        decision = decide(program, POLICY, **values)  # type: ignore[arg-type]
        return decision.eligible, decision.review, decision.reasons

    assert reasons(OPERATING) == (True, False, ("ELIGIBLE",))
    assert reasons(OPERATING, grade="D") == (False, False, ("GRADE_INELIGIBLE",))
    assert reasons(OPERATING, stars=none) == (False, False, ("STARS_BELOW_MINIMUM",))
    assert reasons(CONSTRUCTION, stars=none) == (True, False, ("ELIGIBLE",))
    assert reasons(OPERATING, lists=["watch"]) == (True, True, ("ELIGIBLE", "LISTED_REVIEW"))
    assert reasons(OPERATING, operating=False) == (False, False, ("NOT_OPERATING",))
    assert reasons(ALLOWANCE) == (False, False, ("SUBJECT_KIND_NOT_COVERED",))
    assert reasons(ALLOWANCE, subject_kind="practitioner", stars=None) == (
        True,
        False,
        ("ELIGIBLE",),
    )
