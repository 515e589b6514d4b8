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


def parse_policy(text: str, source: str = "policy") -> Policy:
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
def shipped_policy() -> Policy:
    """The default policy that ships with the service."""
    return load_policy(DEFAULT_POLICY_FILE)
