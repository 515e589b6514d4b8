"""Real processes for the sync tests: the platform simulator and the worker.

Both run as `credit-service` subprocesses, as an operator would run them, and talk
over loopback HTTP; the tests drive the simulator's faults through its control
endpoints and kill or restart either process when the scenario calls for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from conftest import CLI
from factories import make_uscc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.integrations.client import PlatformClient
from service.integrations.platforms import Platform, Platforms, parse_platforms
from service.integrations.reconcile import local_view
from service.integrations.staging import Staged, stage, stage_withdrawn
from service.integrations.sync import register_platforms

PLATFORM = "province"
CLIENT_ID = "hz-mz"
SECRET = "province-secret-for-tests"
SENDER_USCC = "11330500002638915N"


def platforms_toml(url: str, **overrides: Any) -> str:
    settings = {
        "timeout": 1.0, "retry_initial": 0.05, "retry_max": 0.3, "pull": True,
        "pull_interval": 0.2,
    } | overrides  # fmt: skip
    lines = [f"{key} = {str(value).lower() if isinstance(value, bool) else value}"
             for key, value in settings.items()]  # fmt: skip
    return "\n".join(
        [
            "[sender]",
            'name = "湖州市民政局"',
            f'uscc = "{SENDER_USCC}"',
            "",
            "[[platforms]]",
            f'name = "{PLATFORM}"',
            f'url = "{url}"',
            f'client_id = "{CLIENT_ID}"',
            f'secret = "{SECRET}"',
            'record_types = ["blacklist", "watchlist", "redlist", "penalty"]',
            *lines,
        ]
    )


class SimulatorProcess:
    """`credit-service simulator` on a loopback port that survives restarts."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            CLI, "simulator", "--port", str(self.port), "--client", f"{CLIENT_ID}={SECRET}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), timeout=30)).decode()
        assert line.startswith("simulator listening on "), line
        self.port = int(line.strip().rsplit(":", 1)[1])

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), timeout=30)
        self.process = None

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            response = await http.request(method, path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def faults(self, *faults: dict[str, Any]) -> None:
        await self.control("POST", "/_sim/faults", {"faults": list(faults)})

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self.control("GET", "/_sim/stats")
        return stats


class WorkerProcess:
    """`credit-service worker`, passing every 0.1 s, until stopped or killed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            CLI, "worker", "--interval", "0.1", env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), timeout=60)

    async def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 60, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def backlog(sessions: async_sessionmaker[AsyncSession], platform: str = PLATFORM) -> int:
    async with sessions() as session:
        count = await session.scalar(
            sa.text("SELECT count(*) FROM outbox WHERE topic = :t AND status = 'pending'"),
            {"t": f"sync:{platform}"},
        )
    return int(count or 0)


def platform_of(url: str, **overrides: Any) -> Platforms:
    return parse_platforms(platforms_toml(url, **overrides))


def record_body(n: int, revision: int = 0) -> dict[str, Any]:
    """A black-list record of a synthetic institution; a new revision changes its summary."""
    return {
        "subject": {"kind": "org", "name": f"测试养老院{n}", "uscc": make_uscc(n)},
        "effective_from": "2026-03-01",
        "effective_to": "2029-02-28",
        "reason_code": "ABUSE_ACTUAL_HARM",
        "summary": f"第{revision}次修订" if revision else "查实虐老",
        "decision_no": f"湖民信决〔2026〕{n}号",
    }


def record_id(n: int) -> str:
    return f"BL-test-{n:06d}"


async def stage_blacklist(
    sessions: async_sessionmaker[AsyncSession],
    numbers: range | list[int],
    revision: int = 0,
) -> None:
    """Stage records as the lists' subscriber does, in one transaction."""
    async with sessions() as session, session.begin():
        await stage(
            session,
            _now(),
            [
                Staged(record_id(n), "blacklist", uuid.uuid5(uuid.NAMESPACE_OID, str(n)),
                       record_body(n, revision))
                for n in numbers
            ],
        )  # fmt: skip


async def withdraw_blacklist(
    sessions: async_sessionmaker[AsyncSession], numbers: range | list[int]
) -> None:
    async with sessions() as session, session.begin():
        await stage_withdrawn(session, _now(), [record_id(n) for n in numbers])


def _now() -> datetime:
    return datetime.now(UTC)


async def digests(
    sessions: async_sessionmaker[AsyncSession], platform: Platform, record_type: str = "blacklist"
) -> tuple[tuple[int, str], tuple[int, str]]:
    """(count, digest) here and on the platform, for one record type."""
    async with sessions() as session:
        view = await local_view(session, platform, record_type)
    async with httpx.AsyncClient() as http:
        remote = await PlatformClient(platform, http).digest(record_type)
    return (len(view.records), view.digest), (remote["count"], remote["digest"])


def write_platforms_file(directory: Path, url: str, **overrides: Any) -> Path:
    path = directory / "platforms.toml"
    path.write_text(platforms_toml(url, **overrides), encoding="utf-8")
    return path


async def registered(sessions: async_sessionmaker[AsyncSession], platforms: Platforms) -> Platforms:
    """The platforms, registered as the service and the worker register them at start."""
    async with sessions() as session, session.begin():
        await register_platforms(session, platforms)
    return platforms


def sync_env(cli_env: dict[str, str], tmp_path: Path, url: str, **overrides: Any) -> dict[str, str]:
    """The CLI's environment with a platforms file naming the simulator at ``url``."""
    return cli_env | {"PLATFORMS_FILE": str(write_platforms_file(tmp_path, url, **overrides))}


async def published_blacklist_entry(
    sessions: async_sessionmaker[AsyncSession], institution_id: uuid.UUID
) -> uuid.UUID:
    """A black-list entry of the institution, decided and published (as due process
    leaves it) and staged as the lists' subscriber stages it; its id."""
    from service.integrations.staging import list_entry_records
    from service.listing.models import ListEntry

    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        entry = ListEntry(
            list_type="black", subject_kind="institution", subject_id=institution_id,
            region_code="330522", status="published", reason_code="ABUSE_ACTUAL_HARM",
            basis="查实虐老", effective_from=now.date(), effective_to=now.date() + timedelta(days=1000),
            published_at=now, created_at=now, version=6,
        )  # fmt: skip
        session.add(entry)
        await session.flush()
        await session.execute(
            sa.text(
                "INSERT INTO list_transitions (entry_id, seq, action, from_status, to_status,"
                " actor_role, occurred_at, rule, basis_document) VALUES (:id, 5, 'decide_list',"
                " 'notified', 'listed', 'reviewer', :now, '', '湖民信决〔2026〕9号')"
            ),
            {"id": entry.id, "now": now},
        )
        await stage(session, now, await list_entry_records(session, [entry]))
    return entry.id
