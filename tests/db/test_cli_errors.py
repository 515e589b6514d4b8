"""`credit-service` failures an operator can fix: one line on stderr, no traceback, exit 1.

The line says what is wrong and what to do, and never repeats a password or a secret.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import CLI, with_database
from processes import free_port
from simulated import SECRET, platforms_toml

PASSWORD = "pw-that-must-not-show"
SECRET_ENV = "PROVINCE_PLATFORM_SECRET"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr, after checking the exit code and the absence of a traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for secret in (PASSWORD, SECRET):
        assert secret not in result.stderr
    return lines[0]


def missing_database(cli_env: dict[str, str]) -> dict[str, str]:
    url = with_database(cli_env["DATABASE_URL"], "credit_no_such_database")
    return cli_env | {"DATABASE_URL": url.replace("://postgres@", f"://postgres:{PASSWORD}@")}


COMMANDS = {
    "db upgrade": ("db", "upgrade"),
    "users create": ("users", "create", "--role", "admin", "--name", "管理员"),
    "audit verify": ("audit", "verify"),
    "audit seal": ("audit", "seal"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_database_that_does_not_exist_is_named_with_what_to_do(
    command: str, cli_env: dict[str, str]
) -> None:
    line = one_line(cli(missing_database(cli_env), *COMMANDS[command]))
    assert 'database "credit_no_such_database" does not exist' in line
    assert "create it" in line
    assert "DATABASE_URL" in line


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_database_server_that_does_not_answer_is_named(
    command: str, cli_env: dict[str, str]
) -> None:
    port = free_port()  # nothing listens there
    env = cli_env | {
        "DATABASE_URL": f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:{port}/credit"
    }
    line = one_line(cli(env, *COMMANDS[command]))
    assert f"cannot reach the database server 127.0.0.1:{port}" in line
    assert "PostgreSQL is running" in line


def test_a_database_url_that_is_not_a_url_is_refused_without_repeating_it(
    cli_env: dict[str, str],
) -> None:
    env = cli_env | {"DATABASE_URL": f"postgresql+asyncpg://postgres:{PASSWORD}@db:port/credit"}
    line = one_line(cli(env, "db", "upgrade"))
    assert "DATABASE_URL is not a valid URL" in line


def platforms_with_secret_env(directory: Path, url: str) -> Path:
    path = directory / "platforms.toml"
    text = platforms_toml(url).replace(f'secret = "{SECRET}"', f'secret_env = "{SECRET_ENV}"')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "args", [("sync", "push"), ("worker", "--once")], ids=["sync push", "worker"]
)
def test_a_platform_secret_that_is_not_set_is_reported_when_the_command_starts(
    args: tuple[str, ...], cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> None:
    env = {key: value for key, value in cli_env.items() if key != SECRET_ENV}
    env["PLATFORMS_FILE"] = str(platforms_with_secret_env(tmp_path, "http://127.0.0.1:9"))
    line = one_line(cli(env, *args))
    assert SECRET_ENV in line
    assert "set the environment variable" in line


def test_reconcile_with_a_platform_that_cannot_be_reached_says_so(
    cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> None:
    port = free_port()  # nothing listens there
    path = tmp_path / "platforms.toml"
    path.write_text(platforms_toml(f"http://127.0.0.1:{port}"), encoding="utf-8")
    line = one_line(cli(cli_env | {"PLATFORMS_FILE": str(path)}, "sync", "reconcile"))
    assert f"cannot reach the platform at http://127.0.0.1:{port}" in line
    assert "PLATFORMS_FILE" in line
