"""`/health` says the process answers; `/ready` that the database does and is migrated,
and, with a standby configured, how that standby is doing."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service.db.failures import DATABASE_UNAVAILABLE
from service.db.migrate import current_revision, head_revision
from service.db.replica import Reads
from service.logs import get_logger
from service.web.problems import PROBLEM_MEDIA_TYPE

log = get_logger(__name__)


@get("/health", tags=["operations"], summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/hello", tags=["operations"], summary="A plain JSON answer (the benchmarks' baseline)")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@get("/ready", tags=["operations"], summary="The database is reachable and fully migrated")
async def ready(state: State) -> Response[dict[str, Any]]:
    head = head_revision()
    try:
        current = await current_revision(state.engine)
    except Exception as error:  # an unreachable database is this probe's answer, not a crash
        log.warning("readiness_database_unreachable", error_type=type(error).__name__)
        return _not_ready("the database is not reachable")
    if current != head:
        return _not_ready(f"the database is at migration {current}, the code expects {head}")
    body: dict[str, Any] = {"status": "ready", "database": "ok", "migration": current}
    reads: Reads = state.reads
    if reads.has_replica:
        # Ready either way: while the standby is down or behind, the primary answers.
        replica = reads.status()
        body["replica"] = {"status": replica.state.value, "lag_seconds": replica.lag_seconds}
    return Response(body)


def _not_ready(detail: str) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "title": "Not ready", "status": 503, "detail": detail}
    headers = {"Retry-After": str(DATABASE_UNAVAILABLE.retry_after)}
    return Response(body, status_code=503, media_type=PROBLEM_MEDIA_TYPE, headers=headers)
