"""Secrets hide in every repr, and the log's last processor removes any that slips through."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest
import structlog

from service.config import Settings
from service.integrations.platforms import parse_platforms
from service.logs import configure_logging
from service.secret import Secret

CONFIGURED = "configured-secret-value-0123456789"
TOKEN = "cs_" + "A1b2C3d4" * 5


def test_a_secret_never_prints_and_is_revealed_on_purpose() -> None:
    secret = Secret("s3cret-value")
    assert "s3cret" not in repr(secret)
    assert "s3cret" not in f"{secret} {[secret]} { ({'key': secret}) }"
    assert secret.reveal() == "s3cret-value"
    assert secret == Secret("s3cret-value")
    assert secret != Secret("other-value")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_settings_and_platforms_hide_their_secrets(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SECRET_KEY": "k" * 40,
            "METRICS_TOKEN": "scrape-token-0123456789",
            "DATABASE_URL": "postgresql+asyncpg://app:db-password-123@db:5432/credit",
            "DATA_DIR": str(tmp_path),
        }
    )
    assert "k" * 40 not in repr(settings)
    assert "scrape-token" not in repr(settings)
    platforms = parse_platforms(
        '[sender]\nname = "湖州市民政局"\nuscc = "11330500002638915N"\n\n[[platforms]]\n'
        'name = "p"\nurl = "http://127.0.0.1:9"\nclient_id = "c"\nsecret = "platform-secret-1"\n'
    )
    assert "platform-secret-1" not in repr(platforms)


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_the_log_redacts_configured_secrets_and_tokens_wherever_they_appear(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Secret.configured(CONFIGURED)
    configure_logging(log_format, "INFO")  # type: ignore[arg-type]
    stdlib = logging.getLogger("some.library")
    stdlib.warning("connecting with %s and %r", CONFIGURED, {"token": TOKEN})
    try:
        raise RuntimeError(f"failed with key {CONFIGURED!r}")
    except RuntimeError:
        stdlib.exception("library failure")
        structlog.stdlib.get_logger("ours").exception("our failure", key=CONFIGURED)
    structlog.stdlib.get_logger("ours").info(
        "request", headers={"authorization": f"Bearer {TOKEN}"}, raw=CONFIGURED.encode()
    )
    written = capsys.readouterr().err
    assert written.count("RuntimeError: failed with key") == 2  # the tracebacks were logged...
    assert "connecting with" in written
    assert CONFIGURED not in written  # ...without the secret, in any of its forms
    assert TOKEN not in written
    assert TOKEN[:20] not in written
