"""Where a policy's problems are shown: each at the line its key is written on."""

from __future__ import annotations

from service.workbench.policy_problems import key_lines, line_of, problems_in

TEXT = """\
[policy]
version = "2099.1"

[[grades]]
grade = "A"
min = 90

[[grades]]
grade = "B"
min = 70

[inspection.points]
minor = { isolated = 1, pattern = 2 }

[reasons]
ELIGIBLE = { effect = "eligible", title_zh = "符合" }
"""


def test_every_key_and_table_has_its_line_arrays_of_tables_counted() -> None:
    places = key_lines(TEXT)
    assert places["policy.version"] == 2
    assert places["grades[0]"] == 4
    assert places["grades[1].min"] == 10
    assert places["inspection.points.minor"] == 13
    assert places["reasons.ELIGIBLE"] == 16


def test_a_key_not_written_is_found_at_the_table_that_should_hold_it() -> None:
    places = key_lines(TEXT)
    assert line_of("reasons.ELIGIBLE.title_en", places) == 16
    assert line_of("grades[1].grade_cap", places) == 8
    assert line_of("reasons[...].effect", places) == 15
    assert line_of("nowhere.at.all", places) is None


def test_each_kind_of_message_gets_its_line() -> None:
    message = (
        "policy: grades: a grade appears twice; Invalid value (at line 6, column 7); "
        "Expected `int`, got `str` - at `$.grades[1].min`"
    )
    first, second, third = problems_in(message, TEXT, "policy")
    assert (first.key, first.line) == ("grades", 4)
    assert (second.key, second.line) == (None, 6)
    assert second.excerpt[0] == (4, "[[grades]]")
    assert (third.key, third.line, third.message) == (
        "grades[1].min",
        10,
        "Expected `int`, got `str`",
    )
    unplaced = problems_in("policy: 300,000 characters, more than allowed", TEXT, "policy")
    assert (unplaced[0].line, unplaced[0].excerpt) == (None, [])
