"""Which public-credit platforms to sync with: a TOML file, no code change to add one.

    [sender]                      # who we are, as the platforms know us
    name = "湖州市民政局"
    uscc = "11330500002..."

    [[platforms]]
    name = "zhejiang"             # a short name: outbox topics and metrics use it
    url = "https://credit.example.gov.cn"
    client_id = "hz-mz"
    secret_env = "ZHEJIANG_SECRET"   # the environment variable holding the secret
    record_types = ["blacklist", "watchlist", "redlist", "penalty"]
    pull = true                   # import other departments' lists from /v1/changes
    timeout = 10                  # optional: seconds per request, backoff
    retry_initial = 1             #   after a failure (doubling up to retry_max, each
    retry_max = 300               #   up to retry_initial later), how often to pull (s)
    pull_interval = 300

``PLATFORMS_FILE`` names the file; without it nothing is synced.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from service.identity.codes import IdentifierError, normalize_uscc
from service.integrations.protocol import OUTBOUND_TYPES
from service.outbox.backoff import Backoff
from service.secret import Secret

Name = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class PlatformsError(ValueError):
    """The platforms file cannot be used; the message names the key."""


class Sender(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    uscc: str


class Platform(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    url: Annotated[str, Meta(pattern=r"^https?://")]
    client_id: Annotated[str, Meta(min_length=1, max_length=100)]
    secret_env: str | None = None
    # For tests and local simulators; production uses secret_env. Shown as *** in a repr.
    secret: Secret | None = None
    record_types: list[str] = msgspec.field(default_factory=lambda: list(OUTBOUND_TYPES))
    pull: bool = False
    timeout: Annotated[float, Meta(gt=0, le=300)] = 10.0  # seconds for one request
    # Backoff after a failed batch: retry_initial, doubled each time, at most retry_max
    # seconds, jittered by up to retry_initial (a Retry-After from the platform wins).
    # Pull the changes feed this often.
    retry_initial: Annotated[float, Meta(gt=0, le=3600)] = 1.0
    retry_max: Annotated[float, Meta(gt=0, le=86400)] = 300.0
    pull_interval: Annotated[float, Meta(gt=0, le=86400)] = 300.0

    @property
    def topic(self) -> str:
        return f"sync:{self.name}"

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.retry_initial, self.retry_max, jitter=self.retry_initial)

    def resolved_secret(self) -> Secret:
        if self.secret:
            return self.secret
        value = os.environ.get(self.secret_env or "")
        if not value:
            raise PlatformsError(
                f"platform {self.name}: its secret is missing; set the environment variable "
                f"{self.secret_env}"
            )
        return Secret.configured(value)


class Platforms(Struct, forbid_unknown_fields=True):
    sender: Sender
    platforms: list[Platform] = msgspec.field(default_factory=list)

    def named(self, name: str) -> Platform:
        for platform in self.platforms:
            if platform.name == name:
                return platform
        raise PlatformsError(
            f"no platform named {name!r}; configured: {[p.name for p in self.platforms]}"
        )

    @property
    def configured(self) -> bool:
        """Whether they come from a platforms file (without one, the registry is left alone)."""
        return self is not NONE

    def receiving(self, record_type: str) -> list[Platform]:
        return [p for p in self.platforms if record_type in p.record_types]

    def require_secrets(self) -> None:
        """Resolve every secret when a command that signs requests starts (rather than fail
        at its first batch), registering each for redaction from the logs."""
        missing = [
            f"{p.secret_env} (platform {p.name})"
            for p in self.platforms
            if not p.secret and not os.environ.get(p.secret_env or "")
        ]
        if missing:
            raise PlatformsError(
                "set the environment variable holding each platform's secret: " + ", ".join(missing)
            )
        for platform in self.platforms:
            platform.resolved_secret()


NONE = Platforms(sender=Sender(name="", uscc=""))


def _secret_from_file(kind: type, value: Any) -> Any:
    if kind is Secret:
        if not isinstance(value, str):
            raise ValueError("Expected `str`")  # msgspec adds where
        return Secret.configured(value)
    raise NotImplementedError


def parse_platforms(text: str, source: str = "platforms") -> Platforms:
    try:
        config = msgspec.convert(tomllib.loads(text), Platforms, dec_hook=_secret_from_file)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
        raise PlatformsError(f"{source}: {error}") from error
    problems = []
    try:
        normalize_uscc(config.sender.uscc)
    except IdentifierError as error:
        problems.append(f"sender.uscc: {error}")
    names = [p.name for p in config.platforms]
    if len(set(names)) != len(names):
        problems.append("platforms: a name appears twice")
    for index, platform in enumerate(config.platforms):
        if not (platform.secret or platform.secret_env):
            problems.append(
                f"platforms[{index}]: give secret_env (the variable holding the secret)"
            )
        for record_type in platform.record_types:
            if record_type not in OUTBOUND_TYPES:
                problems.append(
                    f"platforms[{index}].record_types: {record_type} is not a record type"
                )
    if problems:
        raise PlatformsError(f"{source}: " + "; ".join(problems))
    return config


def load_platforms(path: Path | None) -> Platforms:
    if path is None:
        return NONE
    return parse_platforms(path.read_text(encoding="utf-8"), str(path))
