from __future__ import annotations

import stat
from pathlib import Path

import pytest

from service.config import Settings, SettingsError


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        Settings.from_env(
            {"ENVIRONMENT": "production", "DATABASE_URL": "postgresql+asyncpg://db/credit"}
        )


def test_database_url_must_use_asyncpg() -> None:
    with pytest.raises(SettingsError, match="postgresql\\+asyncpg"):
        Settings.from_env({"DATABASE_URL": "postgresql://db/credit"})


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    first = settings.with_secret_key().secret_key
    second = settings.with_secret_key().secret_key
    assert first
    assert first == second
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_without_database_url_the_embedded_server_is_used(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert settings.data_dir == tmp_path


def test_a_replica_needs_its_primary_and_a_lag_bound_in_seconds() -> None:
    primary = "postgresql+asyncpg://db/credit"
    replica = "postgresql+asyncpg://standby/credit"
    settings = Settings.from_env(
        {"DATABASE_URL": primary, "DATABASE_REPLICA_URL": replica, "REPLICA_MAX_LAG_SECONDS": "2.5"}
    )
    assert (settings.database_replica_url, settings.replica_max_lag_seconds) == (replica, 2.5)
    assert Settings.from_env({"DATABASE_URL": primary}).replica_max_lag_seconds == 5.0
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL needs DATABASE_URL"):
        Settings.from_env({"DATABASE_REPLICA_URL": replica})
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL must start with"):
        Settings.from_env({"DATABASE_URL": primary, "DATABASE_REPLICA_URL": "postgresql://s/c"})
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SettingsError, match="REPLICA_MAX_LAG_SECONDS must be"):
            Settings.from_env(
                {"DATABASE_URL": primary, "DATABASE_REPLICA_URL": replica,
                 "REPLICA_MAX_LAG_SECONDS": bad}
            )  # fmt: skip
