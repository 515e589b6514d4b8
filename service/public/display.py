"""How the pages show what the read model holds as codes: regions, periods, dates.

Every helper returns markup that keeps a code or a date whole on one line (the
stylesheet's ``.code`` and ``time`` never wrap), so a narrow screen breaks only
between words, never inside "52330102MJ47763W91" or "2029-11-29".
"""

from __future__ import annotations

from markupsafe import Markup

from service.identity.regions import region_name
from service.policy.document import Policy
from service.public.i18n import MESSAGES
from service.registry.models import InstitutionKind

# The kinds of institution that have beds (a home-care provider serves people in
# their own homes, so a bed count says nothing about it and the page leaves it out).
KINDS_WITH_BEDS = frozenset({InstitutionKind.RESIDENTIAL.value, InstitutionKind.COMMUNITY.value})


def code(value: str | None) -> Markup:
    """A code (USCC, masked ID number) that must not be split across lines."""
    return Markup('<span class="code">{}</span>').format(value or "")


def region(value: str, lang: str) -> Markup:
    """杭州市上城区（330102）; in English the Chinese name, marked as Chinese, then the code.

    The names exist in Chinese only (GB/T 2260 as python-stdnum carries it); a
    romanisation would be a guess, so the English page shows the official name.
    """
    name = region_name(value)
    if name is None:
        return code(value)
    if lang == "zh":
        return Markup('{}<span class="code">（{}）</span>').format(name, value)
    return Markup('<span lang="zh-CN">{}</span> <span class="code">({})</span>').format(name, value)


def day(value: str | None) -> Markup:
    """An ISO date, as a ``<time>`` that never wraps."""
    if not value:
        return Markup("")
    return Markup('<time datetime="{0}">{0}</time>').format(value[:10])


def period(start: str | None, end: str | None, lang: str) -> Markup:
    """From one date to another; a period with no end says so."""
    if start and not end:
        words = MESSAGES[lang]["open_period"]  # our own words, no user input
        return Markup(words).format(start=day(start))  # noqa: S704
    return Markup("{} – {}").format(day(start), day(end))


def has_beds(kind: str) -> bool:
    return kind in KINDS_WITH_BEDS


def reason(policy: Policy, list_type: str, value: str, lang: str) -> str:
    """A list entry's reason by its title in the policy in force, in the page's language.

    A code the policy does not define (a manual proposal's own) is shown as it is.
    """
    titled = policy.list_reason(list_type, value)
    return titled.title(lang) if titled is not None else value
