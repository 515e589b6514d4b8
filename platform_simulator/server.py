"""A public-credit platform simulator: protocol v1 over real HTTP, with fault injection.

The sync worker is tested and benchmarked against this instead of a real provincial
platform. It checks requests the way the platform does (signature, clock skew, nonce
replay), stores records per client, answers digests and the inbound changes feed, and
can be told to misbehave so the sender's retry and idempotency logic is exercised.

Unsigned control endpoints under ``/_sim/`` drive it:

- ``POST /_sim/faults`` ``{"faults": [{"kind": K, "times": n, ...}]}`` queues faults (FIFO)
  for the next authenticated ``POST /v1/records`` requests, one request per use (with
  ``"on": "reads"``, for the next reads instead: a record, the digest, the changes feed):

  - ``rate_limit``  429 with ``Retry-After: retry_after`` (default 1); nothing stored.
  - ``unavailable`` 503; nothing stored.
  - ``reset``       the connection is aborted without an answer; nothing stored.
  - ``slow``        sleeps ``seconds`` (default 2), then stores and answers normally, so a
                    sender that gave up at its timeout finds the batch stored anyway.
  - ``drop_answer`` stores the batch, then aborts the connection without an answer.

- ``GET /_sim/stats`` counters, among them ``out_of_order``: how often a client sent a
  version lower than one it had already sent for the same record (a sender bug), even
  in a batch answered with a fault.
- ``POST /_sim/feed`` ``{"items": [...]}`` appends to the inbound ``/v1/changes`` feed.
- ``GET /_sim/records?client_id=X&record_type=T`` what is stored, for assertions.
- ``POST /_sim/reset`` forgets everything but the configured clients.

``running(simulator)`` serves it in-process on asyncio + h11; ``credit-service simulator``
runs it as a process.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import h11
import msgspec

from service.integrations.protocol import (
    IN_FORCE,
    MAX_BATCH,
    MAX_CLOCK_SKEW,
    NONCE,
    NONCE_MEMORY,
    OUTBOUND_TYPES,
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_REJECTED,
    STATUS_STALE,
    WITHDRAWN,
    digest_of,
    rejection,
    signature,
)
from service.logs import get_logger

log = get_logger(__name__)

FAULT_KINDS = ("rate_limit", "unavailable", "reset", "slow", "drop_answer")
FAULT_TARGETS = ("records", "reads")  # POST /v1/records; the GET routes
FEED_FIELDS = (
    "record_id",
    "version",
    "record_type",
    "action",
    "subject",
    "effective_from",
    "effective_to",
    "reason_code",
    "summary",
    "authority",
)
MAX_BODY = 32 * 1024 * 1024
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_REQUIRED_HEADERS = ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # the raw request target, path and query as sent: it is what was signed
    headers: Mapping[str, str]  # lowercase names
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        return _decode(self.body)


@dataclass(frozen=True, slots=True)
class Abort:
    """Close the connection without answering."""


@dataclass(frozen=True, slots=True)
class Delay:
    """Sleep, then compute the answer (the work happens after the sleep)."""

    seconds: float
    then: Callable[[], Response | Abort]


Outcome = Response | Abort | Delay


def _json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, _encode(payload), headers)


def _error(status: int, error: str) -> Response:
    return _json(status, {"error": error})


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != "seq" or not number.isdigit():
        return None
    return int(number)


@dataclass(slots=True)
class _Stored:
    record: Any
    version: int
    status: str
    receipt_id: str
    record_type: str


@dataclass(slots=True)
class _Fault:
    kind: str
    times: int
    retry_after: int = 1
    seconds: float = 2.0
    on: str = "records"


def _new_stats() -> dict[str, Any]:
    return {
        "requests": 0,
        "batches": 0,
        STATUS_ACCEPTED: 0,
        STATUS_DUPLICATE: 0,
        STATUS_STALE: 0,
        STATUS_REJECTED: 0,
        "faults_applied": dict.fromkeys(FAULT_KINDS, 0),
        "out_of_order": 0,
    }


@dataclass
class Simulator:
    """The platform's state and protocol handling, independent of the HTTP transport."""

    clients: dict[str, str]  # client_id -> secret
    clock: Callable[[], float] = time.time
    _records: dict[str, dict[str, _Stored]] = field(default_factory=dict, init=False)
    # Highest version each client has ever sent per record_id, stored or not.
    _highest_sent: dict[tuple[str, str], int] = field(default_factory=dict, init=False)
    # Nonce -> expiry, plus the same in arrival order so expired ones are dropped cheaply.
    _nonces: dict[tuple[str, str], float] = field(default_factory=dict, init=False)
    _nonce_order: deque[tuple[float, tuple[str, str]]] = field(default_factory=deque, init=False)
    _feed: list[dict[str, Any]] = field(default_factory=list, init=False)
    _faults: deque[_Fault] = field(default_factory=deque, init=False)
    _receipts: int = field(default=0, init=False)
    _stats: dict[str, Any] = field(default_factory=_new_stats, init=False)

    def reset(self) -> None:
        self._records.clear()
        self._highest_sent.clear()
        self._nonces.clear()
        self._nonce_order.clear()
        self._feed.clear()
        self._faults.clear()
        self._receipts = 0
        self._stats = _new_stats()

    # -- dispatch ---------------------------------------------------------------------

    def handle(self, request: Request) -> Outcome:
        path, _, query = request.target.partition("?")
        if path.startswith("/v1/"):
            self._stats["requests"] += 1
            client_or_error = self._authenticate(request)
            if isinstance(client_or_error, Response):
                return client_or_error
            return self._handle_v1(client_or_error, request, path, query)
        if path.startswith("/_sim/"):
            return self._handle_control(request, path, query)
        return _error(404, "not_found")

    def _handle_v1(self, client: str, request: Request, path: str, query: str) -> Outcome:
        method = request.method
        if path == "/v1/records":
            if method != "POST":
                return _error(405, "method_not_allowed")
            return self._post_records_with_faults(client, request.body)
        if path.startswith("/v1/records/"):
            if method != "GET":
                return _error(405, "method_not_allowed")
            record_id = unquote(path.removeprefix("/v1/records/"))
            return self._read_with_faults(lambda: self._get_record(client, record_id))
        if path == "/v1/digest":
            if method != "GET":
                return _error(405, "method_not_allowed")
            return self._read_with_faults(lambda: self._digest(client, _query(query)))
        if path == "/v1/changes":
            if method != "GET":
                return _error(405, "method_not_allowed")
            return self._read_with_faults(lambda: self._changes(_query(query)))
        return _error(404, "not_found")

    def _take_fault(self, on: str) -> _Fault | None:
        """The fault at the head of the queue, used once, if it is for this kind of request."""
        if not self._faults or self._faults[0].on != on:
            return None
        fault = self._faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self._faults.popleft()
        self._stats["faults_applied"][fault.kind] += 1
        return fault

    def _read_with_faults(self, answer: Callable[[], Response]) -> Outcome:
        fault = self._take_fault("reads")
        if fault is None:
            return answer()
        if fault.kind == "rate_limit":
            return _json(429, {"error": "rate_limited"}, (("Retry-After", str(fault.retry_after)),))
        if fault.kind == "unavailable":
            return _error(503, "unavailable")
        if fault.kind == "slow":
            return Delay(fault.seconds, answer)
        return Abort()  # reset, drop_answer: a read has nothing to store first

    # -- authentication ---------------------------------------------------------------

    def _authenticate(self, request: Request) -> str | Response:
        """The client id if the request is authentic; otherwise the 401 to answer."""
        headers = request.headers
        values = []
        for name in _REQUIRED_HEADERS:
            value = headers.get(name.lower())
            if not value:
                return _error(401, f"missing_header:{name}")
            values.append(value)
        client_id, timestamp, nonce, sent_signature = values
        secret = self.clients.get(client_id)
        if secret is None:
            # Same answer as a wrong signature: do not tell which client ids exist.
            return _error(401, "bad_signature")
        if not _TIMESTAMP.match(timestamp):
            return _error(401, "bad_timestamp")
        if not NONCE.match(nonce):
            return _error(401, "bad_nonce")
        now = self.clock()
        if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
            return _error(401, "stale_timestamp")
        expected = signature(secret, request.method, request.target, timestamp, nonce, request.body)
        if not hmac.compare_digest(expected, sent_signature):
            return _error(401, "bad_signature")
        # Only a verified request may burn a nonce, or anyone could block a client's nonces.
        self._forget_expired_nonces(now)
        key = (client_id, nonce)
        expiry = self._nonces.get(key)
        if expiry is not None and expiry > now:
            return _error(401, "replayed_nonce")
        expiry = now + NONCE_MEMORY
        self._nonces[key] = expiry
        self._nonce_order.append((expiry, key))
        return client_id

    def _forget_expired_nonces(self, now: float) -> None:
        order, nonces = self._nonce_order, self._nonces
        while order and order[0][0] <= now:
            expiry, key = order.popleft()
            # A nonce seen again after it expired has a newer entry; keep that one.
            if nonces.get(key) == expiry:
                del nonces[key]

    # -- POST /v1/records -------------------------------------------------------------

    def _post_records_with_faults(self, client: str, body: bytes) -> Outcome:
        batch = _parse_batch(body)
        if isinstance(batch, Response):
            return batch  # 400: nothing stored, no fault used up
        # The ordering check is on arrival: a batch answered slowly, or refused, was
        # still sent when it was sent.
        for record in batch:
            self._note_order(client, record)
        fault = self._take_fault("records")
        if fault is None:
            return self._store_batch(client, batch)
        if fault.kind == "rate_limit":
            return _json(429, {"error": "rate_limited"}, (("Retry-After", str(fault.retry_after)),))
        if fault.kind == "unavailable":
            return _error(503, "unavailable")
        if fault.kind == "reset":
            return Abort()
        if fault.kind == "slow":
            return Delay(fault.seconds, lambda: self._store_batch(client, batch))
        self._store_batch(client, batch)  # drop_answer: store, then say nothing
        return Abort()

    def _note_order(self, client: str, record: Any) -> None:
        if not isinstance(record, dict):
            return
        record_id, version = record.get("record_id"), record.get("version")
        if not isinstance(record_id, str) or type(version) is not int:
            return
        key = (client, record_id)
        highest = self._highest_sent.get(key)
        if highest is None or version > highest:
            self._highest_sent[key] = version
        elif version < highest:
            self._stats["out_of_order"] += 1

    def _store_batch(self, client: str, batch: list[Any]) -> Response:
        stats = self._stats
        stats["batches"] += 1
        store = self._records.setdefault(client, {})
        # Sequential on purpose: a record_id twice in one batch sees its first copy.
        results = []
        for record in batch:
            result = self._take(store, record)
            stats[result["status"]] += 1
            results.append(result)
        return _json(200, {"results": results})

    def _take(self, store: dict[str, _Stored], record: Any) -> dict[str, Any]:
        """Store one record if it is valid and new; its entry of the answer."""
        if not isinstance(record, dict):
            return {"record_id": None, "version": None, "status": STATUS_REJECTED,
                    "reason": "not_an_object"}  # fmt: skip
        reason = rejection(record)
        if reason is not None:
            return {"record_id": record.get("record_id"), "version": record.get("version"),
                    "status": STATUS_REJECTED, "reason": reason}  # fmt: skip
        record_id: str = record["record_id"]
        version: int = record["version"]
        stored = store.get(record_id)
        if stored is not None and stored.version == version:
            return {"record_id": record_id, "version": version, "status": STATUS_DUPLICATE,
                    "receipt_id": stored.receipt_id}  # fmt: skip
        if stored is not None and stored.version > version:
            return {"record_id": record_id, "version": version, "status": STATUS_STALE}
        self._receipts += 1
        receipt_id = f"R-{self._receipts:06d}"
        status = WITHDRAWN if record["action"] == "withdraw" else IN_FORCE
        store[record_id] = _Stored(record, version, status, receipt_id, record["record_type"])
        return {"record_id": record_id, "version": version, "status": STATUS_ACCEPTED,
                "receipt_id": receipt_id}  # fmt: skip

    # -- reads --------------------------------------------------------------------------

    def _get_record(self, client: str, record_id: str) -> Response:
        stored = self._records.get(client, {}).get(record_id)
        if stored is None:
            return _error(404, "not_found")
        return _json(200, _stored_view(stored))

    def _digest(self, client: str, query: dict[str, str]) -> Response:
        record_type = query.get("record_type")
        if record_type is None:
            return _error(400, "missing_parameter:record_type")
        if record_type not in OUTBOUND_TYPES:
            return _error(400, "invalid_record_type")
        lines = [
            (record_id, stored.version, stored.status)
            for record_id, stored in self._records.get(client, {}).items()
            if stored.record_type == record_type
        ]
        return _json(
            200, {"record_type": record_type, "count": len(lines), "digest": digest_of(lines)}
        )

    def _changes(self, query: dict[str, str]) -> Response:
        cursor = query.get("cursor")
        after = 0
        if cursor:
            decoded = _decode_cursor(cursor)
            if decoded is None:
                return _error(400, "bad_cursor")
            after = decoded
        raw_limit = query.get("limit")
        limit = DEFAULT_LIMIT
        if raw_limit is not None:
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
                return _error(400, "bad_limit")
            limit = int(raw_limit)
        # seq n is at index n - 1, so the items after seq `after` start at index `after`.
        items = self._feed[after : after + limit]
        last = items[-1]["seq"] if items else after
        return _json(
            200,
            {
                "items": items,
                "next_cursor": _encode_cursor(last),
                "has_more": last < len(self._feed),
            },
        )

    # -- /_sim/ control -----------------------------------------------------------------

    def _handle_control(self, request: Request, path: str, query: str) -> Response:
        method = request.method
        if path == "/_sim/stats" and method == "GET":
            return _json(200, self.stats())
        if path == "/_sim/faults" and method == "POST":
            return self._add_faults(request.body)
        if path == "/_sim/feed" and method == "POST":
            return self._add_feed(request.body)
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return _json(200, {"reset": True})
        if path == "/_sim/records" and method == "GET":
            params = _query(query)
            return _json(
                200, {"records": self.stored(params.get("client_id"), params.get("record_type"))}
            )
        return _error(404, "not_found")

    def stats(self) -> dict[str, Any]:
        return {
            **self._stats,
            "faults_applied": dict(self._stats["faults_applied"]),
            "faults_pending": sum(fault.times for fault in self._faults),
            "records": sum(len(store) for store in self._records.values()),
            "nonces_remembered": len(self._nonces),
        }

    def stored(
        self, client_id: str | None = None, record_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored records (of one client, of one type), ordered by client and record_id."""
        views = []
        for client in sorted(self._records):
            if client_id is not None and client != client_id:
                continue
            for record_id in sorted(self._records[client]):
                stored = self._records[client][record_id]
                if record_type is None or stored.record_type == record_type:
                    views.append({"client_id": client, **_stored_view(stored)})
        return views

    def add_faults(self, faults: list[dict[str, Any]]) -> None:
        """Queue faults; raises ValueError naming what is wrong (nothing queued then)."""
        parsed = []
        for spec in faults:
            if not isinstance(spec, dict) or spec.get("kind") not in FAULT_KINDS:
                raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
            times = spec.get("times", 1)
            retry_after = spec.get("retry_after", 1)
            seconds = spec.get("seconds", 2.0)
            on = spec.get("on", "records")
            if type(times) is not int or times < 1:
                raise ValueError("times must be a positive integer")
            if type(retry_after) is not int or retry_after < 0:
                raise ValueError("retry_after must be a non-negative integer")
            if type(seconds) not in (int, float) or seconds < 0:
                raise ValueError("seconds must be a non-negative number")
            if on not in FAULT_TARGETS:
                raise ValueError(f"on must be one of {', '.join(FAULT_TARGETS)}")
            parsed.append(_Fault(spec["kind"], times, retry_after, float(seconds), on))
        self._faults.extend(parsed)

    def _add_faults(self, body: bytes) -> Response:
        payload = _decode_or_none(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("faults"), list):
            return _error(400, 'body must be {"faults": [...]}')
        try:
            self.add_faults(payload["faults"])
        except ValueError as error:
            return _error(400, str(error))
        return _json(
            200,
            {
                "queued": len(self._faults),
                "faults_pending": sum(fault.times for fault in self._faults),
            },
        )

    def add_feed(self, items: list[dict[str, Any]]) -> list[int]:
        """Append items to the inbound feed; returns their seqs. Raises ValueError if bad."""
        for item in items:
            if not isinstance(item, dict):
                raise ValueError("every item must be an object")
            if not isinstance(item.get("record_id"), str) or type(item.get("version")) is not int:
                raise ValueError("every item needs a string record_id and an integer version")
        seqs = []
        for item in items:
            seq = len(self._feed) + 1
            self._feed.append({"seq": seq, **{name: item.get(name) for name in FEED_FIELDS}})
            seqs.append(seq)
        return seqs

    def _add_feed(self, body: bytes) -> Response:
        payload = _decode_or_none(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            return _error(400, 'body must be {"items": [...]}')
        try:
            seqs = self.add_feed(payload["items"])
        except ValueError as error:
            return _error(400, str(error))
        return _json(200, {"seqs": seqs})


def _stored_view(stored: _Stored) -> dict[str, Any]:
    return {
        "record": stored.record,
        "receipt_id": stored.receipt_id,
        "status": stored.status,
        "version": stored.version,
    }


def _query(query: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}


def _decode_or_none(body: bytes) -> Any:
    try:
        return _decode(body)
    except msgspec.DecodeError:
        return None


def _parse_batch(body: bytes) -> list[Any] | Response:
    """The records of a batch body, or the 400 to answer (nothing of it is then stored)."""
    try:
        payload = _decode(body)
    except msgspec.DecodeError:
        return _error(400, "invalid_json")
    if not isinstance(payload, dict):
        return _error(400, "body_not_an_object")
    records = payload.get("records")
    if not isinstance(records, list):
        return _error(400, "missing_field:records")
    if not records:
        return _error(400, "empty_batch")
    if len(records) > MAX_BATCH:
        return _error(400, f"batch_too_large:max_{MAX_BATCH}")
    return records


# -- HTTP transport (asyncio + h11) -----------------------------------------------------


class _BadRequest(Exception):
    """The request cannot be read; answer with this status and close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(65536)  # b"" at EOF tells h11 the peer closed
        connection.receive_data(data)


async def _read_request(
    connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Request | None:
    """The next request on this connection, or None once the client has gone."""
    head = await _next_event(connection, reader)
    if isinstance(head, h11.ConnectionClosed) or head is h11.PAUSED:
        return None
    if not isinstance(head, h11.Request):
        raise _BadRequest(400)
    if connection.client_is_waiting_for_100_continue:
        writer.write(connection.send(h11.InformationalResponse(status_code=100, headers=[])))
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next_event(connection, reader)
        if isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise _BadRequest(413)
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:
            raise _BadRequest(400)
    return Request(
        method=head.method.decode("ascii"),
        target=head.target.decode("latin-1"),
        headers={name.decode("latin-1"): value.decode("latin-1") for name, value in head.headers},
        body=b"".join(chunks),
    )


async def _send(
    connection: h11.Connection, writer: asyncio.StreamWriter, response: Response, close: bool
) -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(response.body))),
        *response.headers,
    ]
    if close:
        headers.append(("Connection", "close"))
    writer.write(connection.send(h11.Response(status_code=response.status, headers=headers)))
    writer.write(connection.send(h11.Data(data=response.body)))
    writer.write(connection.send(h11.EndOfMessage()))
    await writer.drain()


async def _outcome(simulator: Simulator, request: Request) -> Response | Abort:
    """Run the simulator on one request; an error in it is a 500, not a dead server."""
    try:
        outcome = simulator.handle(request)
        if isinstance(outcome, Delay):
            await asyncio.sleep(outcome.seconds)
            return outcome.then()
        return outcome
    except Exception:
        log.exception("simulator_error", method=request.method, path=request.target.split("?")[0])
        return _error(500, "internal_error")


async def _serve_connection(
    simulator: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    try:
        while True:
            try:
                request = await _read_request(connection, reader, writer)
            except (h11.RemoteProtocolError, _BadRequest) as error:
                status = error.status if isinstance(error, _BadRequest) else error.error_status_hint
                if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    with suppress(h11.LocalProtocolError):
                        await _send(connection, writer, _error(status, "bad_request"), close=True)
                return
            if request is None:
                return
            response = await _outcome(simulator, request)
            if isinstance(response, Abort):
                writer.transport.abort()
                return
            await _send(connection, writer, response, close=False)
            if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                return  # either side asked to close (Connection: close, HTTP/1.0)
            connection.start_next_cycle()
    except (ConnectionError, OSError):
        return  # the client went away mid-answer, e.g. after its own timeout
    finally:
        writer.close()


@asynccontextmanager
async def running(
    simulator: Simulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[int]:
    """Serve the simulator over HTTP while the block runs; yields the bound port."""
    connections: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _serve_connection(simulator, reader, writer)
        except asyncio.CancelledError:
            # Only our shutdown cancels these. Ending normally matters: Python 3.11's
            # start_server calls task.exception() on the finished task, which raises for
            # a cancelled one.
            pass
        finally:
            connections.discard(task)

    server = await asyncio.start_server(accept, host, port, limit=1024 * 1024)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        # Idle keep-alive connections and sleeping `slow` answers would outlive us.
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()
