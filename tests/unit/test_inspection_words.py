"""The inspectors' pages' words: every label and option a form shows exists in both
languages, and none replaces a word another part of the pages relies on."""

from __future__ import annotations

from service.public.i18n import MESSAGES as PUBLIC_MESSAGES
from service.workbench.admin_i18n import ADMIN_MESSAGES
from service.workbench.inspection_words import CHINESE_FIELD_MESSAGES, INSPECTION_WORDS
from service.workbench.record_forms import KIND_FIELDS, options_words
from service.workbench.review_words import REVIEW_MESSAGES


def test_both_languages_have_the_same_words() -> None:
    assert set(INSPECTION_WORDS["zh"]) == set(INSPECTION_WORDS["en"])


def test_every_field_and_option_of_the_record_forms_has_its_words() -> None:
    needed = {spec.label for specs in KIND_FIELDS.values() for spec in specs}
    needed |= {word for specs in KIND_FIELDS.values() for word in options_words(specs)}
    assert needed - set(INSPECTION_WORDS["zh"]) == set()


def test_no_word_of_another_part_is_replaced() -> None:
    for others in (PUBLIC_MESSAGES, REVIEW_MESSAGES, ADMIN_MESSAGES):
        assert set(others["zh"]) & set(INSPECTION_WORDS["zh"]) == set()


def test_the_record_rules_messages_are_said_in_chinese() -> None:
    said = {
        "must not be before the inspection date": "不能早于检查日期",
        "must not be after today (2026-03-16)": "不能晚于今天（2026-03-16）",
        "Expected `str` of length <= 500": "不能超过 500 个字符",
    }
    for message, chinese in said.items():
        found = next(
            (
                c.format(**m.groupdict())
                for p, c in CHINESE_FIELD_MESSAGES
                if (m := p.match(message))
            ),
            None,
        )
        assert found == chinese
