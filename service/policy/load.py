"""Reading a policy file: TOML syntax errors name the line, rule errors name the key."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import msgspec

from service.policy.model import Policy

DEFAULT_POLICY_FILE = Path(__file__).with_name("default.toml")


class PolicyError(ValueError):
    """A policy file that cannot be applied; the message says where and why."""


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: {error}") from error
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
