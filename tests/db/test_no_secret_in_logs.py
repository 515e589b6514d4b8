"""No secret in any log: platform secrets, SECRET_KEY, the database password, bearer tokens.

Each scenario runs the real `credit-service` and reads everything it printed: a sync
against the platform simulator answering 503, starts that fail, and bad logins
against a served process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import TEST_SECRET_KEY, MakeToken, bearer
from processes import cli_output, free_port, served
from simulated import SECRET, SimulatorProcess, platform_of, platforms_toml, stage_blacklist
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.service import new_token
from service.integrations.sync import register_platforms

DATABASE_PASSWORD = "db-password-never-printed"
SECRET_ENV = "PROVINCE_PLATFORM_SECRET"
READS = {"pull": {"on": "reads"}, "reconcile": {"on": "reads"}}


def platforms_file(directory: Path, url: str, *, from_env: bool) -> Path:
    """The simulator's platform; its secret in the file, or in an environment variable."""
    text = platforms_toml(url)
    if from_env:
        text = text.replace(f'secret = "{SECRET}"', f'secret_env = "{SECRET_ENV}"')
    path = directory / "platforms.toml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_no_secret(output: str, *extra: str) -> None:
    for secret in (SECRET, TEST_SECRET_KEY, DATABASE_PASSWORD, *extra):
        assert secret not in output


@pytest.mark.parametrize(
    ("command", "log_format", "from_env"),
    [
        ("pull", "json", True),
        ("pull", "console", False),
        ("reconcile", "json", False),
        ("push", "console", True),
    ],
)
async def test_a_sync_against_a_platform_answering_503_prints_no_secret(
    command: str,
    log_format: str,
    from_env: bool,
    simulator: SimulatorProcess,
    cli_env: dict[str, str],
    tmp_path: Path,
    session_factory: async_sessionmaker[AsyncSession],
    clean_db: None,
) -> None:
    # Every request of the command answered 503: pushes, or reads (the digest, the feed).
    await simulator.faults({"kind": "unavailable", "times": 20} | READS.get(command, {}))
    env = cli_env | {
        "PLATFORMS_FILE": str(platforms_file(tmp_path, simulator.url, from_env=from_env)),
        SECRET_ENV: SECRET,
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": "DEBUG",  # everything anyone would ever log
    }
    if command == "push":
        async with session_factory() as session, session.begin():
            await register_platforms(session, platform_of(simulator.url))
        await stage_blacklist(session_factory, range(1, 3))
    returncode, output = await cli_output(env, "sync", command)
    assert (await simulator.stats())["faults_applied"]["unavailable"] >= 1
    if command == "push":  # a failed batch waits for a later pass: reported, not an error
        assert "HTTP 503" in output
    else:  # reads are retried at once, then the command fails
        assert returncode != 0, output
        assert "retry_scheduled" in output
    assert_no_secret(output)


async def test_starts_that_fail_print_no_secret(
    cli_env: dict[str, str], tmp_path: Path, simulator: SimulatorProcess
) -> None:
    closed = free_port()  # nothing listens there
    unreachable = f"postgresql+asyncpg://postgres:{DATABASE_PASSWORD}@127.0.0.1:{closed}/credit"
    env = cli_env | {
        "DATABASE_URL": unreachable,
        "PLATFORMS_FILE": str(platforms_file(tmp_path, simulator.url, from_env=True)),
        SECRET_ENV: SECRET,
        "LOG_LEVEL": "DEBUG",
    }
    for args in (
        ("serve", "--port", str(free_port())),  # registering the platforms fails
        ("worker", "--once"),
        ("db", "upgrade"),
        ("sync", "pull"),
    ):
        returncode, output = await cli_output(env, *args)
        assert returncode != 0, (args, output)
        assert_no_secret(output)
    bad_url = env | {"DATABASE_URL": unreachable.replace(str(closed), "not-a-port")}
    returncode, output = await cli_output(bad_url, "serve")
    assert returncode != 0
    assert "DATABASE_URL" in output
    assert_no_secret(output)


def test_a_standby_that_cannot_be_reached_is_logged_without_its_password(
    cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> None:
    standby = f"postgresql+asyncpg://postgres:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/credit"
    env = cli_env | {"DATABASE_REPLICA_URL": standby, "LOG_LEVEL": "DEBUG"}
    log_path = tmp_path / "server.log"
    with served(env, log_path) as base_url:
        ready = httpx.get(f"{base_url}/ready", timeout=10)
        assert (ready.status_code, ready.json()["replica"]["status"]) == (200, "down")
        assert httpx.get(f"{base_url}/api/v1/public/institutions", timeout=10).status_code == 200
    output = log_path.read_text(encoding="utf-8")
    assert "replica_down" in output  # the failure was logged: without the password
    assert_no_secret(output)


@pytest.fixture
def served_with_platforms(
    cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "server.log"
    env = cli_env | {
        "PLATFORMS_FILE": str(platforms_file(tmp_path, "http://127.0.0.1:9", from_env=True)),
        SECRET_ENV: SECRET,
        "LOG_LEVEL": "DEBUG",
    }
    with served(env, log_path) as base_url:
        yield base_url, log_path


async def test_bad_logins_leave_no_token_or_secret_in_the_log(
    served_with_platforms: tuple[str, Path], make_token: MakeToken
) -> None:
    base_url, log_path = served_with_platforms
    token = await make_token("admin")
    wrong = new_token()
    async with httpx.AsyncClient(base_url=base_url) as client:
        answers = [
            await client.get("/api/v1/institutions", headers=bearer(wrong)),
            await client.get("/api/v1/institutions", headers=bearer(TEST_SECRET_KEY)),
            await client.get("/api/v1/institutions", headers={"Authorization": token}),
            # A token pasted where it does not belong: the path, the request id.
            await client.get(f"/api/v1/institutions/{token}", headers=bearer(token)),
            await client.get("/api/v1/institutions", headers={"X-Request-ID": token}),
        ]
    assert [answer.status_code for answer in answers[:3]] == [401, 401, 401]
    assert answers[3].status_code in (400, 404)
    deadline = time.monotonic() + 10
    while log_path.read_text(encoding="utf-8").count('"event": "request"') < len(answers):
        assert time.monotonic() < deadline, "the server did not log every request"
        await asyncio.sleep(0.05)
    log_text = log_path.read_text(encoding="utf-8")
    assert_no_secret(log_text, token, wrong)
