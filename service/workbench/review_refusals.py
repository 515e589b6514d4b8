"""The due-process refusals the service gives in English (as the API does), said in the
reviewer's page's language: each pattern picks out the facts and the words say them."""

from __future__ import annotations

import re

from service.workbench.i18n import translated, words

# Message pattern, then the key of the words that say it (with the pattern's groups).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^an entry that is (\w+) cannot (\w+); allowed: (.*)$"), "refused_step"),
    (re.compile(r"^the subject may object until ([\d-]+); decide after"), "refused_window"),
    (re.compile(r"^the objection period ended on ([\d-]+); an objection received on ([\d-]+)"),
     "refused_late_objection"),
    (re.compile(r"^you proposed this entry, so someone else must"), "refused_four_eyes"),
    (re.compile(r"^you recorded this application, so someone else must"), "refused_four_eyes_repair"),
    (re.compile(r"^the repair conditions are not met: (.*)$"), "refused_repair_conditions"),
    (re.compile(r"^a repair application for this entry is already waiting"), "refused_repair_pending"),
    (re.compile(r"^region (\w+) is outside your jurisdiction \((\w*)\)"), "refused_region"),
    (re.compile(r"^role (\w+) may not do this"), "refused_role"),
)  # fmt: skip


def _named(value: str, t: dict[str, str]) -> str:
    """A status or action code by its name on the page, when it has one."""
    return t.get(f"status_{value}") or t.get(f"action_{value}") or value


def said(message: str, lang: str) -> str:
    """The message in the page's language where its pattern is known; as given otherwise."""
    t = words(lang)
    for pattern, key in _PATTERNS:
        if found := pattern.match(message):
            facts = [_named(group, t) for group in found.groups()]
            if key == "refused_step":
                joiner = "、" if lang == "zh" else ", "
                facts[2] = joiner.join(_named(a, t) for a in found.group(3).split(", "))
            return str(t[key]).format(*facts)
    return translated(message, lang)
