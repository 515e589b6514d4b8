"""Every trigger, reason and remedy of a policy carries a Chinese and an English title;
a policy without one is refused naming the key. Versions stored before titles existed
stay readable."""

from __future__ import annotations

import re

import pytest

from service.policy.load import DEFAULT_POLICY_FILE, PolicyError, parse_policy, shipped_policy

SHIPPED_TEXT = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("title_line", "key"),
    [
        ('title_zh = "在养老服务活动中欺老、虐老，侵害老年人合法权益"\n', "lists.black.triggers[0].title_zh"),
        ('title_en = "Listed by a court as a dishonest judgment debtor"\n',
         "lists.black.external_triggers[0].title_en"),
        ('title_zh = "行政诉讼"\n', "remedies[1].title_zh"),
    ],
)  # fmt: skip
def test_a_policy_without_a_title_is_refused_naming_the_key(title_line: str, key: str) -> None:
    assert title_line in SHIPPED_TEXT
    with pytest.raises(PolicyError) as refused:
        parse_policy(SHIPPED_TEXT.replace(title_line, "", 1))
    assert f"{key}: missing" in str(refused.value)


def test_a_reason_without_its_chinese_title_is_refused_naming_its_code() -> None:
    text = SHIPPED_TEXT.replace('WATCH_GRADE = { title_zh = "信用等级为C级", ', "WATCH_GRADE = { ")
    with pytest.raises(PolicyError, match=r"lists\.watch\.reasons\.WATCH_GRADE\.title_zh: missing"):
        parse_policy(text)
    text = SHIPPED_TEXT.replace('title_zh = "符合全部条件"', 'title_zh = " "')
    with pytest.raises(PolicyError, match=r"reasons\.ELIGIBLE\.title_zh: missing"):
        parse_policy(text)


def test_the_service_s_own_list_reasons_and_the_remedies_must_be_defined() -> None:
    text = SHIPPED_TEXT.replace("RED_CANDIDATE = {", "RED_OTHER = {")
    with pytest.raises(PolicyError, match=r"lists\.red\.reasons\.RED_CANDIDATE"):
        parse_policy(text)
    text = SHIPPED_TEXT.replace("within_months = 6\n", "")
    with pytest.raises(PolicyError, match=r"remedies\[1\]: give within_days or within_months"):
        parse_policy(text)


def test_every_list_reason_has_both_titles() -> None:
    policy = shipped_policy()
    for list_type in ("black", "watch", "red"):
        for code, reason in policy.lists.of(list_type).proposal_reasons().items():
            assert reason.title_zh, code
            assert reason.title_en, code
    assert policy.list_reason("black", "COURT_DISHONEST_DEBTOR") is not None
    assert policy.list_reason("watch", "ABUSE_ACTUAL_HARM") is None
    assert [(r.title_zh, r.limit_zh) for r in policy.remedies] == [
        ("行政复议", "60日"),
        ("行政诉讼", "6个月"),
    ]


def _as_before_the_titles(text: str) -> str:
    """The shipped policy as versions up to 2026.4 wrote it: reasons in ``zh``/``en``,
    triggers with one ``title``, no list basis, list reasons or remedies."""
    text = text[: text.index("# Remedies")]
    # Up to 2026.5 a scoring rule had one (English) title and no default rectification days.
    rules, stars = text.index("[[rules]]"), text.index("[stars]")
    text = (
        text[:rules]
        + re.sub(r'title_zh = ".*"\ntitle_en = "(.*)"', r'title = "\1"', text[rules:stars])
        + text[stars:]
    )
    text = re.sub(r"\[inspection\.rectification_days\]\n(?:[a-z]+ = \d+\n)+\n", "", text)
    text = re.sub(r"\n\[lists\.(watch|red)\.reasons\]\n(?:[A-Z_]+ = .*\n)+", "\n", text)
    text = re.sub(r'basis = "《.*\n', "", text)
    lists = text.index("[lists.black]")
    text = text[:lists] + re.sub(
        r'title_zh = ".*"\ntitle_en = "(.*)"', r'title = "\1"', text[lists:]
    )
    reasons = text.index("[reasons]")
    head, tail = text[:reasons], text[reasons:]
    end = tail.index("\n\n")
    return (
        head + tail[:end].replace("title_zh =", "zh =").replace("title_en =", "en =") + tail[end:]
    )


def test_a_version_stored_before_the_titles_stays_readable() -> None:
    legacy = _as_before_the_titles(
        SHIPPED_TEXT.replace(f'version = "{shipped_policy().version}"', 'version = "2026.4"')
    )
    assert "title_zh =" not in legacy[legacy.index("[reasons]") :]
    with pytest.raises(PolicyError, match=r"reasons\.ELIGIBLE\.title_zh: missing"):
        parse_policy(legacy)  # installing it now is refused
    policy = parse_policy(legacy, stored=True)  # reading it as stored is not
    court = policy.lists.black.external_triggers[0]
    assert (court.title_zh, court.title_en) == (
        "被人民法院依法纳入失信被执行人名单",
        "Listed by a court as a dishonest judgment debtor",
    )
    assert policy.reasons["ELIGIBLE"].title_zh == "符合全部条件"
    assert policy.lists.watch.reasons == shipped_policy().lists.watch.reasons
    assert policy.remedies == shipped_policy().remedies
    assert "rectification_days" not in legacy
    assert 'title = "Licence revoked"' in legacy
    assert policy.inspection.rectification_days == shipped_policy().inspection.rectification_days
    revoked = next(rule for rule in policy.rules if rule.code == "LICENCE_REVOKED")
    assert (revoked.title_zh, revoked.title_en) == ("被吊销许可", "Licence revoked")
