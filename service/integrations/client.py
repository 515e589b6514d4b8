"""The adapter's HTTP side: signed requests to one platform, and what their answers mean.

Every attempt is signed afresh (a new timestamp and nonce), so a retry is never
refused as a replay. The delivery and the importer decide what to do with an
answer; this module only sends, reads and classifies.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import msgspec

from service.integrations.platforms import Platform
from service.integrations.protocol import signature
from service.outbox.backoff import Backoff


class PlatformError(Exception):
    """The platform did not give a usable answer; ``retry_after`` if it said when to retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# Reads retried in-process: 0.2 s, 0.4 s, 0.8 s, each up to a second later (stamina).
READS = Backoff(initial=0.2, maximum=5.0)


def _is_transient(error: BaseException) -> bool:
    """For read-only calls: retry network trouble and 5xx/429 at once, a few times."""
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, PlatformError) and not str(error).startswith("HTTP 4")


@dataclass(slots=True)
class PlatformClient:
    platform: Platform
    http: httpx.AsyncClient
    clock: Callable[[], float] = time.time

    def _headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        return {
            "Content-Type": "application/json",
            "X-Client-Id": self.platform.client_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": signature(
                self.platform.resolved_secret().reveal(), method, target, timestamp, nonce, body
            ),
        }

    async def request(self, method: str, target: str, body: bytes = b"") -> httpx.Response:
        """One signed request; the target is the path with its query, exactly as sent."""
        url = self.platform.url.rstrip("/") + target
        return await self.http.request(
            method,
            url,
            content=body,
            headers=self._headers(method, target, body),
            timeout=self.platform.timeout,
        )

    def _checked(self, response: httpx.Response) -> Any:
        if response.status_code == 429:
            raise PlatformError(
                "HTTP 429 rate limited",
                retry_after_seconds(response.headers.get("Retry-After"), self.clock()),
            )
        if response.status_code != 200:
            raise PlatformError(f"HTTP {response.status_code} {response.text[:200]}")
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as error:
            raise PlatformError(f"answer is not JSON: {error}") from error

    async def post_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result per record, in order; PlatformError or httpx errors otherwise."""
        body = msgspec.json.encode({"records": records})
        answer = self._checked(await self.request("POST", "/v1/records", body))
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(records):
            raise PlatformError("answer does not have one result per record")
        for record, result in zip(records, results, strict=True):
            if not isinstance(result, dict) or result.get("record_id") != record["record_id"]:
                raise PlatformError("answer's results are not in the order sent")
        return results

    @READS.retrying(on=_is_transient, attempts=4)
    async def get_record(self, record_id: str) -> dict[str, Any] | None:
        response = await self.request("GET", f"/v1/records/{quote(record_id, safe='')}")
        if response.status_code == 404:
            return None
        answer: dict[str, Any] = self._checked(response)
        return answer

    @READS.retrying(on=_is_transient, attempts=4)
    async def digest(self, record_type: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._checked(
            await self.request("GET", "/v1/digest?" + urlencode({"record_type": record_type}))
        )
        return answer

    @READS.retrying(on=_is_transient, attempts=4)
    async def changes(self, cursor: str | None, limit: int) -> dict[str, Any]:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        answer: dict[str, Any] = self._checked(
            await self.request("GET", "/v1/changes?" + urlencode(query))
        )
        return answer


def utc_from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
