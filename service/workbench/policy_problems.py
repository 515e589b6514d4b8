"""Where in a pasted policy each problem lies, for the admin's page: the loader's message
(``service.policy.load``) names a line (TOML syntax) or a key (``$.score.start`` from the
struct check, ``rules[2].code: …`` from the policy's own checks); this finds the line
that key is written on, so the page can show the line beside the message.

Presentation only: which documents are valid is the loader's business, not this module's.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`")
_LEADING_KEY = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"""^\s*([A-Za-z0-9_."'-]+?)\s*=""")
CONTEXT_LINES = 2


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    key: str | None
    line: int | None  # 1-based
    excerpt: list[tuple[int, str]]  # the numbered lines around ``line``


def _unquoted(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def key_lines(text: str) -> dict[str, int]:
    """Each table and key of a TOML text, by its dotted path (arrays of tables indexed:
    ``lists.black.triggers[0].code``), with the line it is written on."""
    places: dict[str, int] = {}
    tables_seen: Counter[str] = Counter()
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            name = _unquoted(header.group(2))
            if header.group(1) == "[[":
                current = f"{name}[{tables_seen[name]}]"
                tables_seen[name] += 1
                places.setdefault(name, number)  # the array itself: at its first table
            else:
                current = name
            places.setdefault(current, number)
        elif assignment := _ASSIGNMENT.match(line):
            key = _unquoted(assignment.group(1))
            places.setdefault(f"{current}.{key}" if current else key, number)
    return places


def _shorter(key: str) -> str:
    """The key one level up: ``a.b[2].c`` → ``a.b[2]`` → ``a.b`` → ``a`` → ``""``."""
    if key.endswith("]"):
        return key[: key.rfind("[")]
    return key.rpartition(".")[0]


def line_of(key: str, places: dict[str, int]) -> int | None:
    """The line of the key, or of the nearest table holding it (a missing key)."""
    key = key.replace("[...]", "")
    while key:
        if key in places:
            return places[key]
        key = _shorter(key)
    return None


def _excerpt(lines: list[str], line: int | None) -> list[tuple[int, str]]:
    if line is None or not 1 <= line <= len(lines):
        return []
    first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
    return [(number, lines[number - 1]) for number in range(first, last + 1)]


def problem_at_key(message: str, key: str, text: str) -> Problem:
    line = line_of(key, key_lines(text))
    return Problem(message, key, line, _excerpt(text.splitlines(), line))


def problems_in(message: str, text: str, source: str) -> list[Problem]:
    """The loader's message (``source: one; two``) as problems, each at its line."""
    body = message.removeprefix(f"{source}: ")
    places = key_lines(text)
    lines = text.splitlines()
    found = []
    for part in body.split("; "):
        key = None
        line = None
        if at_line := _AT_LINE.search(part):
            line = int(at_line.group(1))
        elif at_path := _AT_PATH.search(part):
            key = at_path.group(1)
            part = part[: at_path.start()]  # the key is shown beside the message
        elif leading := _LEADING_KEY.match(part):
            key = leading.group(1)
        if key is not None:
            line = line_of(key, places)
        found.append(Problem(part, key or None, line, _excerpt(lines, line)))
    return found
