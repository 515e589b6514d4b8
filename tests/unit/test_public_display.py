"""What the public pages show for codes: reason titles from the policy, beds where they
apply, dates and periods that stay whole."""

from __future__ import annotations

from service.policy.load import DEFAULT_POLICY_FILE, load_policy
from service.public.display import has_beds, period, reason
from service.registry.models import InstitutionKind

POLICY = load_policy(DEFAULT_POLICY_FILE)


def test_a_reason_is_its_title_in_the_policy_in_the_pages_language() -> None:
    for list_type, code in [("black", "ABUSE_ACTUAL_HARM"), ("watch", "WATCH_GRADE"),
                            ("black", "COURT_DISHONEST_DEBTOR"), ("red", "RED_CANDIDATE")]:  # fmt: skip
        titled = POLICY.list_reason(list_type, code)
        assert titled is not None
        assert reason(POLICY, list_type, code, "zh") == titled.title_zh != code
        assert reason(POLICY, list_type, code, "en") == titled.title_en != code
    assert reason(POLICY, "watch", "WATCH_GRADE", "zh") == "信用等级为C级"


def test_a_code_the_policy_does_not_define_is_shown_as_it_is() -> None:
    assert reason(POLICY, "black", "MANUAL_FINDING", "zh") == "MANUAL_FINDING"


def test_only_kinds_with_beds_show_beds() -> None:
    assert has_beds(InstitutionKind.RESIDENTIAL)
    assert has_beds(InstitutionKind.COMMUNITY)
    assert not has_beds(InstitutionKind.HOME_CARE)


def test_a_period_keeps_each_date_whole() -> None:
    assert period("2026-11-30", "2029-11-29", "en") == (
        '<time datetime="2026-11-30">2026-11-30</time> – '
        '<time datetime="2029-11-29">2029-11-29</time>'
    )
    assert period("2026-11-30", None, "zh") == '<time datetime="2026-11-30">2026-11-30</time> 起'
    assert period("2026-11-30", None, "en") == 'from <time datetime="2026-11-30">2026-11-30</time>'
