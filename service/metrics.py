"""Prometheus metrics: Litestar's request metrics, the sync's state per platform, and
the standby's lag when one is configured.

The sync gauges are read from the database when Prometheus scrapes, so every instance
reports the same numbers and none has to keep them up to date in between. The standby's
lag is this process's own measure (service.db.replica).
"""

from __future__ import annotations

import hmac
import math
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.db.replica import Reads, ReplicaState
from service.errors import Unauthorized
from service.integrations.status import sync_status
from service.secret import Secret

# Request metrics for the staff and machine API. The public pages and lookups are left
# out: they are served from memory at a rate where the per-request histogram would be
# a fifth of the cost, and a CDN or ingress in front of them counts them anyway.
UNMEASURED = [r"^/api/v1/public/", r"^/institutions/", r"^/lists/", r"^/$", r"^/hello$"]
PROMETHEUS = PrometheusConfig(
    app_name="credit_service", prefix="credit_service", group_path=True, exclude=UNMEASURED
)

_LABELS = ["platform"]
BACKLOG = Gauge("credit_service_sync_backlog", "Messages waiting to be sent", _LABELS)
OLDEST_PENDING = Gauge(
    "credit_service_sync_oldest_pending_age_seconds",
    "Age of the oldest message waiting to be sent (0 when none)",
    _LABELS,
)
DEAD_LETTERS = Gauge(
    "credit_service_sync_dead_letters", "Records the platform rejected, for an operator", _LABELS
)
LAST_SUCCESS = Gauge(
    "credit_service_sync_last_success_timestamp_seconds",
    "When a batch last went through (Unix time; 0 never)",
    _LABELS,
)
FAILURES = Gauge(
    "credit_service_sync_consecutive_failures", "Failed attempts since the last success", _LABELS
)
# Labelled by the standby's host, port and database, so nothing is exported without one.
_REPLICA = ["replica"]
REPLICA_UP = Gauge(
    "credit_service_replica_up", "1 while the standby answers as a standby, 0 otherwise", _REPLICA
)
REPLICA_LAG = Gauge(
    "credit_service_replica_lag_seconds",
    "How far the standby is behind the primary (NaN while it is down)",
    _REPLICA,
)


def require_metrics_token(authorization: str | None, token: Secret | None) -> None:
    """One rule, whoever asks: with no METRICS_TOKEN configured /metrics is open to
    anyone who can reach it, whatever Authorization they send (it names no user, so a
    user's token is neither needed nor checked); with one, that bearer token is needed."""
    if token is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.reveal().encode()
    ):
        raise Unauthorized(
            "/metrics needs the metrics token: Authorization: Bearer <METRICS_TOKEN>"
        )


class MetricsController(PrometheusController):
    path = "/metrics"

    @get(include_in_schema=False)
    async def get(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
    ) -> Response[bytes]:
        require_metrics_token(request.headers.get("authorization"), state.settings.metrics_token)
        for platform in await sync_status(db_session, state.clock(), with_dead_letters=False):
            labels = (platform.name,)
            BACKLOG.labels(*labels).set(platform.backlog)
            OLDEST_PENDING.labels(*labels).set(platform.oldest_pending_age_seconds or 0)
            DEAD_LETTERS.labels(*labels).set(platform.dead_letters)
            LAST_SUCCESS.labels(*labels).set(
                platform.last_success_at.timestamp() if platform.last_success_at else 0
            )
            FAILURES.labels(*labels).set(platform.failures)
        settings: Settings = state.settings
        reads: Reads = state.reads
        if settings.database_replica_url and reads.has_replica:
            replica = _replica_label(settings.database_replica_url)
            status = reads.status()
            up = status.state in (ReplicaState.OK, ReplicaState.LAGGING)
            REPLICA_UP.labels(replica).set(1 if up else 0)
            lag = status.lag_seconds
            REPLICA_LAG.labels(replica).set(math.nan if lag is None else lag)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST, status_code=200)


def _replica_label(url: str) -> str:
    """``host:port/database`` of the standby: never its user or password."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or ""
    return f"{host}:{parsed.port or 5432}/{parsed.database or ''}"
