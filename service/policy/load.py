"""Reading a policy file: TOML syntax errors name the line, rule errors name the key.

A policy arrives from an admin's upload too, so it is bounded before it is parsed: its
size, and how deep its arrays and inline tables nest (the TOML reader recurses once per
level and would exhaust the stack on a file nested thousands deep).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from service.policy.document import Policy
from service.upload_limits import MAX_POLICY_CHARS, MAX_POLICY_NESTING

DEFAULT_POLICY_FILE = Path(__file__).with_name("default.toml")


class PolicyError(ValueError):
    """A policy file that cannot be applied; the message says where and why."""


# The characters that open or close a level, a string or a comment.
_SIGNIFICANT = re.compile(r"""[\[\]{}#"']""")


def _string_end(text: str, start: int) -> int:
    """Where the TOML string opening at ``start`` ends (past its closing quotes).

    An unterminated string ends the scan: the TOML reader then names the error itself.
    """
    quote = text[start]
    if text.startswith(quote * 3, start):
        search = start + 3
        while (close := text.find(quote * 3, search)) != -1:
            backslashes = 0
            while quote == '"' and text[close - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2 == 0:
                end = close + 3
                while end < min(close + 5, len(text)) and text[end] == quote:
                    end += 1  # up to two quotes just before the closing three are content
                return end
            search = close + 1
        return len(text)
    end = start + 1
    while end < len(text) and text[end] not in (quote, "\n"):
        end += 2 if quote == '"' and text[end] == "\\" else 1
    return end + 1


def _nesting_depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and inline tables nest deeper than ``limit``, outside strings and comments.

    One pass, linear in the length: no regular expression that could backtrack.
    """
    depth = 0
    position = 0
    while match := _SIGNIFICANT.search(text, position):
        found = match.group()
        position = match.end()
        if found == "#":
            newline = text.find("\n", position)
            position = len(text) if newline == -1 else newline + 1
        elif found in "\"'":
            position = _string_end(text, match.start())
        elif found in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _readable_as_stored(data: dict[str, Any]) -> None:
    """Fill in, for a version installed before the shipped one, what the service now needs.

    Stored versions never change and stay in force for the dates they cover. Those
    from before 2026.5 gave triggers one ``title`` and reasons ``zh``/``en``, and had
    no list ``basis``, list ``reasons`` or ``remedies`` (and before 2026.6 no
    ``inspection.rectification_days``): their titles become both
    languages' (a trigger the shipped policy knows takes the shipped titles), and what
    is missing comes from the shipped policy. Only stored versions are read this way;
    a version being installed must carry it all.
    """
    shipped = tomllib.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    for reason in data.get("reasons", {}).values():
        if isinstance(reason, dict) and "zh" in reason and "title_zh" not in reason:
            reason["title_zh"], reason["title_en"] = reason.pop("zh"), reason.pop("en", "")
    lists, shipped_lists = data.get("lists", {}), shipped["lists"]
    known = {
        t["code"]: t
        for key in ("triggers", "external_triggers")
        for t in shipped_lists["black"][key]
    }
    for key in ("triggers", "external_triggers"):
        for trigger in lists.get("black", {}).get(key, []):
            if isinstance(trigger, dict) and "title_zh" not in trigger:
                title = trigger.pop("title", "") or trigger.get("code", "")
                same = known.get(trigger.get("code"), {})
                trigger["title_zh"] = same.get("title_zh", title)
                trigger["title_en"] = same.get("title_en", title)
    for list_type, process in lists.items():
        if isinstance(process, dict) and list_type in ("black", "watch", "red"):
            for key in ("basis", "reasons"):
                process.setdefault(key, shipped_lists[list_type].get(key, {}))
    data.setdefault("remedies", shipped["remedies"])
    # Before 2026.6 a rule had one (English) title and no default rectification deadline.
    shipped_rules = {rule["code"]: rule for rule in shipped["rules"]}
    for rule in data.get("rules", []):
        if isinstance(rule, dict) and "title_zh" not in rule:
            title = rule.pop("title", "") or rule.get("code", "")
            same = shipped_rules.get(rule.get("code"), {})
            rule["title_zh"] = same.get("title_zh", title)
            rule["title_en"] = same.get("title_en", title)
    inspection = data.get("inspection")
    if isinstance(inspection, dict):
        inspection.setdefault("rectification_days", shipped["inspection"]["rectification_days"])


def _titled_places(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every table a reader sees by its code, with its key (``reasons.ELIGIBLE``)."""
    places: list[tuple[str, Any]] = []

    def table(key: str, value: Any) -> None:
        if isinstance(value, dict):
            places.extend((f"{key}.{code}", item) for code, item in value.items())

    def array(key: str, value: Any) -> None:
        if isinstance(value, list):
            places.extend((f"{key}[{index}]", item) for index, item in enumerate(value))

    table("reasons", data.get("reasons"))
    array("remedies", data.get("remedies"))
    array("rules", data.get("rules"))
    lists = data.get("lists")
    if isinstance(lists, dict):
        for list_type in ("black", "watch", "red"):
            process = lists.get(list_type)
            if isinstance(process, dict):
                table(f"lists.{list_type}.reasons", process.get("reasons"))
                array(f"lists.{list_type}.triggers", process.get("triggers"))
                array(f"lists.{list_type}.external_triggers", process.get("external_triggers"))
    return places


def missing_titles(data: dict[str, Any]) -> list[str]:
    """Each rule, trigger, reason or remedy without its Chinese or English title, by its key.

    The structs require both titles too; this names the exact key, which msgspec cannot
    do for a table's entries (it says ``$.reasons[...]``).
    """
    return [
        f"{key}.{title}: missing (each rule, trigger, reason and remedy has both titles)"
        for key, item in _titled_places(data)
        if isinstance(item, dict)
        for title in ("title_zh", "title_en")
        if not (isinstance(item.get(title), str) and item[title].strip())
    ]


def parse_policy(text: str, source: str = "policy", *, stored: bool = False) -> Policy:
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(
            f"{source}: {len(text):,} characters, more than the {MAX_POLICY_CHARS:,} a policy "
            "file may have"
        )
    if _nesting_depth_exceeds(text, MAX_POLICY_NESTING):
        raise PolicyError(
            f"{source}: arrays or inline tables nested more than {MAX_POLICY_NESTING} deep"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: {error}") from error
    except RecursionError as error:  # the depth check above should make this unreachable
        raise PolicyError(f"{source}: nested too deep to read") from error
    if stored and data.get("policy", {}).get("version") != shipped_version():
        _readable_as_stored(data)
    if missing := missing_titles(data):
        raise PolicyError(f"{source}: " + "; ".join(missing))
    try:
        policy = msgspec.convert(data, Policy)
    except msgspec.ValidationError as error:
        # msgspec names the key path, e.g. "... - at `$.disclosure.publication_months.minor`".
        raise PolicyError(f"{source}: {error}") from error
    if problems := policy.problems():
        raise PolicyError(f"{source}: " + "; ".join(problems))
    return policy


def load_policy(path: Path) -> Policy:
    return parse_policy(path.read_text(encoding="utf-8"), source=str(path))


@cache
def shipped_version() -> str:
    version: str = tomllib.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))["policy"][
        "version"
    ]
    return version


@cache
def shipped_policy() -> Policy:
    """The default policy that ships with the service."""
    return load_policy(DEFAULT_POLICY_FILE)
