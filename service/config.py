"""Settings read once from the environment.

With no ``DATABASE_URL`` the service runs on an embedded PostgreSQL whose cluster
lives under ``DATA_DIR``; production points ``DATABASE_URL`` at a real server and
must supply ``SECRET_KEY``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from service.secret import Secret, register

Environment = Literal["development", "test", "production"]
LogFormat = Literal["auto", "json", "console"]

SECRET_KEY_FILE = "secret_key"
SIGNING_KEY_FILE = Path("signing") / "ed25519.pem"  # under DATA_DIR unless configured
MIN_SECRET_KEY_LENGTH = 32


class SettingsError(RuntimeError):
    """The environment does not describe a runnable service."""


@dataclass(frozen=True, slots=True)
class Settings:
    environment: Environment = "development"
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("var"))
    secret_key: Secret | None = None  # hidden in every repr; reveal() where keys are derived
    log_format: LogFormat = "auto"
    log_level: str = "INFO"
    max_request_body_bytes: int = 1_048_576
    database_pool_size: int = 10
    notice_webhook_url: str | None = None  # where the worker delivers notices to subjects
    platforms_file: Path | None = None  # the public-credit platforms to sync with
    public_rate_limit: int = 300  # public requests per minute per client address
    # Proxies whose X-Forwarded-For names the client (addresses or CIDRs); none by default,
    # so a client cannot choose the address the rate limit counts.
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: Secret | None = None  # when set, /metrics wants it as a bearer token
    # Where staff reach the service: the start of the enrolment links users create prints.
    base_url: str = "http://127.0.0.1:8000"
    # X-Request-ID on every answer and log line (a caller's valid one kept); off: neither.
    request_id: bool = True
    # The access log: every request (1.0), none (0.0), or about that fraction of them.
    access_log_sample: float = 1.0
    # A streaming standby of DATABASE_URL for the public reads, eligibility and exports.
    database_replica_url: str | None = None
    # Beyond this lag (seconds) those reads go to the primary instead.
    replica_max_lag_seconds: float = 5.0
    # The Ed25519 key that signs checkpoints and decisions; default DATA_DIR/signing/.
    signing_key_file: Path | None = None
    # How often the worker signs a checkpoint of the audit chain's head.
    checkpoint_interval_seconds: float = 300.0
    # Where each new checkpoint is also POSTed (an outside witness), if anywhere.
    checkpoint_witness_url: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        environment = env.get("ENVIRONMENT", "development")
        if environment not in ("development", "test", "production"):
            raise SettingsError(
                f"ENVIRONMENT must be development, test or production, not {environment!r}"
            )
        log_format = env.get("LOG_FORMAT", "auto")
        if log_format not in ("auto", "json", "console"):
            raise SettingsError(f"LOG_FORMAT must be auto, json or console, not {log_format!r}")
        settings = cls(
            environment=environment,  # type: ignore[arg-type]
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("DATA_DIR", "var")),
            secret_key=_secret(env, "SECRET_KEY"),
            log_format=log_format,  # type: ignore[arg-type]
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            max_request_body_bytes=_int(env, "MAX_REQUEST_BODY_BYTES", 1_048_576),
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", 10),
            notice_webhook_url=env.get("NOTICE_WEBHOOK_URL") or None,
            platforms_file=Path(env["PLATFORMS_FILE"]) if env.get("PLATFORMS_FILE") else None,
            public_rate_limit=_int(env, "PUBLIC_RATE_LIMIT", 300),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            base_url=env.get("BASE_URL") or "http://127.0.0.1:8000",
            request_id=_switch(env, "REQUEST_ID", default=True),
            access_log_sample=_access_log(env.get("ACCESS_LOG", "on")),
            database_replica_url=env.get("DATABASE_REPLICA_URL") or None,
            replica_max_lag_seconds=_seconds(env, "REPLICA_MAX_LAG_SECONDS", 5.0),
            signing_key_file=Path(env["SIGNING_KEY_FILE"]) if env.get("SIGNING_KEY_FILE") else None,
            checkpoint_interval_seconds=_seconds(env, "CHECKPOINT_INTERVAL_SECONDS", 300.0),
            checkpoint_witness_url=env.get("CHECKPOINT_WITNESS_URL") or None,
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.database_url:
            _check_database_url(self.database_url)
        if self.database_replica_url:
            if not self.database_url:
                raise SettingsError("DATABASE_REPLICA_URL needs DATABASE_URL, its primary")
            _check_database_url(self.database_replica_url, "DATABASE_REPLICA_URL")
        if self.notice_webhook_url and not self.notice_webhook_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError("NOTICE_WEBHOOK_URL must be an http:// or https:// address")
        if self.checkpoint_witness_url and not self.checkpoint_witness_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError("CHECKPOINT_WITNESS_URL must be an http:// or https:// address")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("BASE_URL must be an http:// or https:// address")
        if self.environment == "production":
            if not self.secret_key:
                raise SettingsError("SECRET_KEY is required in production")
            if not self.database_url:
                raise SettingsError("DATABASE_URL is required in production")
        if self.secret_key is not None and len(self.secret_key.reveal()) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters")

    @property
    def signing_key_path(self) -> Path:
        """The signing key: SIGNING_KEY_FILE in production, else one made under DATA_DIR."""
        return self.signing_key_file or self.data_dir / SIGNING_KEY_FILE

    def with_secret_key(self) -> Settings:
        """Return settings whose secret key is set, generating one under DATA_DIR once."""
        if self.secret_key:
            return self
        return replace(self, secret_key=Secret.configured(load_or_create_secret_key(self.data_dir)))


def load_or_create_secret_key(data_dir: Path) -> str:
    """The development secret: created once, readable only by its owner, reused after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _secret(env: dict[str, str], name: str) -> Secret | None:
    """A secret from the environment, registered so that the logs redact it."""
    value = env.get(name)
    return Secret.configured(value) if value else None


def _check_database_url(url: str, name: str = "DATABASE_URL") -> None:
    """A usable URL, or a message that does not repeat it (it may hold a password)."""
    if not url.startswith("postgresql+asyncpg://"):
        raise SettingsError(f"{name} must start with postgresql+asyncpg://")
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        raise SettingsError(
            f"{name} is not a valid URL: "
            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE (the port a number)"
        ) from None
    if password:
        register(str(password))  # redacted from the logs like any configured secret


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from error


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        raise SettingsError(f"{name} must be a number of seconds above 0, not {raw!r}")
    return value


def _switch(env: dict[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, not {raw!r}")


def _access_log(raw: str) -> float:
    """``on`` (every request), ``off`` (none) or ``sample:F`` (about a fraction F, 0 to 1)."""
    value = raw.strip().lower()
    if value in ("", "on"):
        return 1.0
    if value == "off":
        return 0.0
    if value.startswith("sample:"):
        try:
            fraction = float(value.removeprefix("sample:"))
        except ValueError:
            fraction = -1.0
        if 0.0 <= fraction <= 1.0:
            return fraction
    raise SettingsError(f"ACCESS_LOG must be on, off or sample:F with F from 0 to 1, not {raw!r}")


def _networks(env: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (``10.0.0.5, 10.1.0.0/16``), checked."""
    items = tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as error:
            raise SettingsError(
                f"{name} must list IP addresses or networks (CIDR), separated by commas; "
                f"{item!r} is neither"
            ) from error
    return items
