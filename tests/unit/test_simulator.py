"""The platform simulator over real HTTP: protocol v1, its checks, and each fault kind."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import make_id_number, make_uscc

from platform_simulator.server import Simulator, running
from service.integrations.protocol import digest_of, signature

SECRET = "demo-secret"
CLIENTS = {"demo": SECRET, "other": "other-secret"}


def record(record_id: str = "B-1", version: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "record_id": record_id,
        "version": version,
        "record_type": "blacklist",
        "action": "publish",
        "subject": {"kind": "org", "name": "安吉县福寿养老院", "uscc": make_uscc(7)},
        "effective_from": "2026-03-01",
        "effective_to": "2029-02-28",
        "reason_code": "abuse",
        "summary": "虐待老年人，情节严重",
        "decision_no": "湖民罚〔2026〕12号",
        "authority": {"name": "湖州市民政局", "uscc": make_uscc(1, prefix="11")},
    }
    body.update(overrides)
    return body


async def signed(
    http: httpx.AsyncClient,
    method: str,
    target: str,
    payload: Any = None,
    *,
    content: bytes | None = None,
    client_id: str = "demo",
    secret: str = SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
    client_timeout: float | None = None,
) -> httpx.Response:
    """Send a request signed as protocol v1 says, over the exact target httpx sends."""
    if content is None:
        content = b"" if payload is None else httpx.Request("POST", "/", json=payload).read()
    request = http.build_request(
        method,
        target,
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=client_timeout if client_timeout is not None else httpx.USE_CLIENT_DEFAULT,
    )
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    sent_target = request.url.raw_path.decode()
    request.headers.update(
        {
            "X-Client-Id": client_id,
            "X-Timestamp": stamp,
            "X-Nonce": nonce,
            "X-Signature": signature(secret, method, sent_target, stamp, nonce, content),
        }
    )
    return await http.send(request)


async def post_records(http: httpx.AsyncClient, records: list[Any], **kwargs: Any) -> Any:
    response = await signed(http, "POST", "/v1/records", {"records": records}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def stats(http: httpx.AsyncClient) -> Any:
    return (await http.get("/_sim/stats")).json()


async def add_faults(http: httpx.AsyncClient, *faults: dict[str, Any]) -> None:
    response = await http.post("/_sim/faults", json={"faults": list(faults)})
    assert response.status_code == 200, response.text


@pytest.fixture
def sim() -> Simulator:
    return Simulator(dict(CLIENTS))


@pytest.fixture
async def base_url(sim: Simulator) -> AsyncIterator[str]:
    async with running(sim) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        yield http


# -- records ---------------------------------------------------------------------------


async def test_a_valid_signed_batch_is_accepted_with_unique_receipts(
    http: httpx.AsyncClient,
) -> None:
    person = record(
        "W-9", record_type="watchlist",
        subject={"kind": "person", "name": "张三", "id_number": make_id_number(3)},
    )  # fmt: skip
    results = await post_records(http, [record("B-1"), person])

    assert [(r["record_id"], r["status"]) for r in results] == [
        ("B-1", "accepted"),
        ("W-9", "accepted"),
    ]
    receipts = {r["receipt_id"] for r in results}
    assert len(receipts) == 2
    assert all(receipt.startswith("R-") for receipt in receipts)
    counters = await stats(http)
    assert (counters["accepted"], counters["records"], counters["batches"]) == (2, 2, 1)


async def test_duplicate_stale_and_rejected_records_leave_the_rest_of_the_batch_standing(
    http: httpx.AsyncClient,
) -> None:
    [first] = await post_records(http, [record("B-1", 2)])

    results = await post_records(
        http,
        [
            record("B-1", 2),
            record("B-1", 1),
            record("B-2", subject={"kind": "org", "name": "某院", "uscc": "91330500MA2B3C4D5X"}),
            {k: v for k, v in record("B-3").items() if k != "decision_no"},
            record("B-4"),
        ],
    )

    assert [r["status"] for r in results] == [
        "duplicate", "stale", "rejected", "rejected", "accepted",
    ]  # fmt: skip
    assert results[0]["receipt_id"] == first["receipt_id"]
    assert results[2]["reason"] == "invalid_uscc"
    assert results[3]["reason"] == "missing_field:decision_no"
    assert [r["record_id"] for r in results] == ["B-1", "B-1", "B-2", "B-3", "B-4"]
    for record_id, expected in [("B-2", 404), ("B-3", 404), ("B-4", 200)]:
        assert (await signed(http, "GET", f"/v1/records/{record_id}")).status_code == expected
    stored = (await signed(http, "GET", "/v1/records/B-1")).json()
    assert stored["version"] == 2


async def test_a_record_twice_in_one_batch_is_taken_in_order(http: httpx.AsyncClient) -> None:
    results = await post_records(
        http, [record("B-1", 1), record("B-1", 2), record("B-1", 2), record("B-5", 3)]
    )
    assert [r["status"] for r in results] == ["accepted", "accepted", "duplicate", "accepted"]
    assert results[2]["receipt_id"] == results[1]["receipt_id"]
    assert (await signed(http, "GET", "/v1/records/B-1")).json()["version"] == 2


async def test_a_higher_version_replaces_the_stored_one_and_withdraw_is_withdrawn(
    http: httpx.AsyncClient,
) -> None:
    await post_records(http, [record("B-1", 1)])
    [result] = await post_records(http, [record("B-1", 2, action="withdraw")])

    response = await signed(http, "GET", "/v1/records/B-1")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["version"] == 2
    assert response.json()["receipt_id"] == result["receipt_id"]
    assert response.json()["record"]["action"] == "withdraw"


async def test_clients_are_separate_namespaces(http: httpx.AsyncClient) -> None:
    await post_records(http, [record("B-1")])
    [result] = await post_records(http, [record("B-1")], client_id="other", secret="other-secret")
    assert result["status"] == "accepted"
    missing = await signed(http, "GET", "/v1/records/B-2", client_id="other", secret="other-secret")
    assert missing.status_code == 404
    listed = (await http.get("/_sim/records", params={"client_id": "other"})).json()
    assert [(r["client_id"], r["record"]["record_id"]) for r in listed["records"]] == [
        ("other", "B-1")
    ]


async def test_get_record_decodes_the_path_and_answers_404_for_unknown_ids(
    http: httpx.AsyncClient,
) -> None:
    await post_records(http, [record("HZ/2026 黑-1")])

    found = await signed(http, "GET", "/v1/records/HZ%2F2026%20%E9%BB%91-1")
    assert found.status_code == 200
    assert found.json()["record"]["record_id"] == "HZ/2026 黑-1"
    assert found.json()["status"] == "in_force"

    missing = await signed(http, "GET", "/v1/records/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "body_not_an_object"),
        (b'{"items": []}', "missing_field:records"),
        (b'{"records": []}', "empty_batch"),
    ],
)
async def test_a_malformed_body_is_400(http: httpx.AsyncClient, content: bytes, error: str) -> None:
    response = await signed(http, "POST", "/v1/records", content=content)
    assert (response.status_code, response.json()) == (400, {"error": error})


async def test_501_records_are_400_and_nothing_of_them_is_stored(
    http: httpx.AsyncClient,
) -> None:
    batch = [record(f"B-{n}") for n in range(501)]
    response = await signed(http, "POST", "/v1/records", {"records": batch})
    assert response.status_code == 400
    assert "batch_too_large" in response.json()["error"]
    counters = await stats(http)
    assert (counters["records"], counters["batches"], counters["accepted"]) == (0, 0, 0)
    assert (await signed(http, "GET", "/v1/records/B-0")).status_code == 404


# -- authentication --------------------------------------------------------------------


async def test_a_wrong_signature_or_unknown_client_is_401(http: httpx.AsyncClient) -> None:
    wrong = await signed(http, "POST", "/v1/records", {"records": [record()]}, secret="guess")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "bad_signature"})
    unknown = await signed(http, "GET", "/v1/records/B-1", client_id="nobody")
    assert (unknown.status_code, unknown.json()) == (401, {"error": "bad_signature"})
    assert (await stats(http))["records"] == 0


async def test_a_body_changed_after_signing_is_401(http: httpx.AsyncClient) -> None:
    content = b'{"records": []}'
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "X-Client-Id": "demo",
        "X-Timestamp": stamp,
        "X-Nonce": nonce,
        "X-Signature": signature(SECRET, "POST", "/v1/records", stamp, nonce, content),
    }
    tampered = httpx.Request("POST", "/", json={"records": [record()]}).read()
    response = await http.post("/v1/records", content=tampered, headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "bad_signature"})


async def test_a_timestamp_too_far_from_the_platform_clock_is_401(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    now = time.time()
    sim.clock = lambda: now + 301
    stale = await signed(http, "GET", "/v1/records/B-1", timestamp=int(now))
    assert (stale.status_code, stale.json()) == (401, {"error": "stale_timestamp"})

    sim.clock = lambda: now + 299  # within the allowed skew, in either direction
    assert (await signed(http, "GET", "/v1/records/B-1", timestamp=int(now))).status_code == 404
    sim.clock = lambda: now - 299
    assert (await signed(http, "GET", "/v1/records/B-1", timestamp=int(now))).status_code == 404


async def test_a_replayed_nonce_is_401_but_a_failed_request_burns_no_nonce(
    http: httpx.AsyncClient,
) -> None:
    nonce = "replay-me-" + secrets.token_hex(8)
    forged = await signed(http, "GET", "/v1/records/B-1", nonce=nonce, secret="guess")
    assert forged.json() == {"error": "bad_signature"}

    first = await signed(http, "GET", "/v1/records/B-1", nonce=nonce)
    assert first.status_code == 404
    again = await signed(http, "GET", "/v1/records/B-1", nonce=nonce)
    assert (again.status_code, again.json()) == (401, {"error": "replayed_nonce"})


async def test_nonces_are_forgotten_after_600_seconds(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    start = time.time()
    sim.clock = lambda: start
    nonce = secrets.token_hex(16)
    await signed(http, "GET", "/v1/records/B-1", nonce=nonce, timestamp=int(start))
    assert (await stats(http))["nonces_remembered"] == 1

    sim.clock = lambda: start + 601
    later = int(start + 601)
    response = await signed(http, "GET", "/v1/records/B-1", nonce=nonce, timestamp=later)
    assert response.status_code == 404
    # The old entry was dropped; only the new sighting is remembered.
    assert (await stats(http))["nonces_remembered"] == 1


@pytest.mark.parametrize(
    ("drop", "replace", "error"),
    [
        ("X-Nonce", None, "missing_header:X-Nonce"),
        ("X-Signature", None, "missing_header:X-Signature"),
        ("X-Client-Id", None, "missing_header:X-Client-Id"),
        (None, ("X-Nonce", "short"), "bad_nonce"),
        (None, ("X-Nonce", "has spaces in it 1234"), "bad_nonce"),
        (None, ("X-Timestamp", "yesterday"), "bad_timestamp"),
    ],
)
async def test_missing_or_malformed_headers_are_401(
    http: httpx.AsyncClient, drop: str | None, replace: tuple[str, str] | None, error: str
) -> None:
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "X-Client-Id": "demo",
        "X-Timestamp": stamp,
        "X-Nonce": nonce,
        "X-Signature": signature(SECRET, "GET", "/v1/records/B-1", stamp, nonce, b""),
    }
    if drop:
        del headers[drop]
    if replace:
        headers[replace[0]] = replace[1]
    response = await http.get("/v1/records/B-1", headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": error})


# -- digest and changes ----------------------------------------------------------------


async def test_the_digest_covers_what_was_stored_and_changes_after_a_withdraw(
    http: httpx.AsyncClient,
) -> None:
    await post_records(
        http,
        [record("B-2"), record("B-1", 3), record("W-1", record_type="watchlist"),
         record("B-9", subject={"kind": "org", "name": "x", "uscc": "bad"})],
    )  # fmt: skip

    before = await signed(http, "GET", "/v1/digest?record_type=blacklist")
    assert before.status_code == 200
    assert before.json() == {
        "record_type": "blacklist",
        "count": 2,
        "digest": digest_of([("B-1", 3, "in_force"), ("B-2", 1, "in_force")]),
    }

    await post_records(http, [record("B-2", 2, action="withdraw")])
    after = (await signed(http, "GET", "/v1/digest?record_type=blacklist")).json()
    assert after["digest"] == digest_of([("B-1", 3, "in_force"), ("B-2", 2, "withdrawn")])
    assert after["digest"] != before.json()["digest"]

    empty = (await signed(http, "GET", "/v1/digest?record_type=penalty")).json()
    assert (empty["count"], empty["digest"]) == (0, digest_of([]))
    for target in ("/v1/digest", "/v1/digest?record_type=honours"):
        assert (await signed(http, "GET", target)).status_code == 400


async def test_the_changes_feed_pages_by_cursor_and_is_empty_when_caught_up(
    http: httpx.AsyncClient,
) -> None:
    items = [record(f"X-{n}", record_type="redlist") for n in range(5)]
    fed = await http.post("/_sim/feed", json={"items": items})
    assert fed.json() == {"seqs": [1, 2, 3, 4, 5]}

    seen: list[tuple[int, str]] = []
    cursor: str | None = None
    for _ in range(3):
        target = "/v1/changes?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await signed(http, "GET", target)).json()
        seen += [(item["seq"], item["record_id"]) for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [(n + 1, f"X-{n}") for n in range(5)]
    first = (await signed(http, "GET", "/v1/changes")).json()["items"][0]
    assert set(first) == {
        "seq", "record_id", "version", "record_type", "action", "subject", "effective_from",
        "effective_to", "reason_code", "summary", "authority",
    }  # fmt: skip

    caught_up = (await signed(http, "GET", f"/v1/changes?cursor={cursor}")).json()
    assert caught_up["items"] == []
    assert caught_up["next_cursor"] == cursor

    await http.post("/_sim/feed", json={"items": [record("X-new", record_type="redlist")]})
    fresh = (await signed(http, "GET", f"/v1/changes?cursor={cursor}")).json()
    assert [(item["seq"], item["record_id"]) for item in fresh["items"]] == [(6, "X-new")]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=ten", "cursor=%25%25%25", "cursor=bm9wZQ"]
)
async def test_a_bad_cursor_or_limit_is_400(http: httpx.AsyncClient, query: str) -> None:
    assert (await signed(http, "GET", f"/v1/changes?{query}")).status_code == 400


# -- faults ------------------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after_and_stores_nothing(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "rate_limit", "retry_after": 7})
    response = await signed(http, "POST", "/v1/records", {"records": [record()]})
    assert (response.status_code, response.json()) == (429, {"error": "rate_limited"})
    assert response.headers["Retry-After"] == "7"
    assert (await stats(http))["records"] == 0

    [result] = await post_records(http, [record()])  # the queue is used up
    assert result["status"] == "accepted"


async def test_unavailable_answers_503_for_as_many_requests_as_asked(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "unavailable", "times": 2})
    for _ in range(2):
        response = await signed(http, "POST", "/v1/records", {"records": [record()]})
        assert (response.status_code, response.json()) == (503, {"error": "unavailable"})
    counters = await stats(http)
    assert (counters["records"], counters["faults_pending"]) == (0, 0)
    assert counters["faults_applied"]["unavailable"] == 2


async def test_a_request_failing_authentication_consumes_no_fault(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "unavailable"})
    forged = await signed(http, "POST", "/v1/records", {"records": [record()]}, secret="x")
    assert forged.status_code == 401
    assert (await stats(http))["faults_pending"] == 1
    response = await signed(http, "POST", "/v1/records", {"records": [record()]})
    assert response.status_code == 503


async def test_reset_aborts_the_connection_and_stores_nothing(http: httpx.AsyncClient) -> None:
    await add_faults(http, {"kind": "reset"})
    with pytest.raises(httpx.TransportError):
        await signed(http, "POST", "/v1/records", {"records": [record()]})
    counters = await stats(http)
    assert (counters["records"], counters["batches"]) == (0, 0)
    assert counters["faults_applied"]["reset"] == 1


async def test_slow_stores_the_batch_even_after_the_sender_gave_up(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "slow", "seconds": 0.5})
    with pytest.raises(httpx.ReadTimeout):
        await signed(http, "POST", "/v1/records", {"records": [record()]}, client_timeout=0.1)
    assert (await signed(http, "GET", "/v1/records/B-1")).status_code == 404

    for _ in range(50):
        await asyncio.sleep(0.05)
        if (await signed(http, "GET", "/v1/records/B-1")).status_code == 200:
            break
    else:
        pytest.fail("the slow batch was never stored")


async def test_slow_answers_normally_to_a_patient_sender(http: httpx.AsyncClient) -> None:
    await add_faults(http, {"kind": "slow", "seconds": 0.2})
    started = time.monotonic()
    [result] = await post_records(http, [record()])
    assert result["status"] == "accepted"
    assert time.monotonic() - started >= 0.2


async def test_drop_answer_stores_the_batch_and_a_retry_is_a_duplicate(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "drop_answer"})
    with pytest.raises(httpx.TransportError):
        await signed(http, "POST", "/v1/records", {"records": [record()]})

    [retry] = await post_records(http, [record()])  # signed() picks a fresh nonce
    assert retry["status"] == "duplicate"
    assert retry["receipt_id"]


async def test_faults_are_applied_in_the_order_they_were_queued(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(http, {"kind": "unavailable"}, {"kind": "rate_limit"}, {"kind": "unavailable"})
    codes = [
        (await signed(http, "POST", "/v1/records", {"records": [record()]})).status_code
        for _ in range(4)
    ]
    assert codes == [503, 429, 503, 200]


async def test_a_bad_fault_is_400_and_nothing_is_queued(http: httpx.AsyncClient) -> None:
    bodies: list[dict[str, Any]] = [
        {"faults": [{"kind": "unavailable"}, {"kind": "meteor"}]},
        {"faults": [{"kind": "slow", "times": 0}]},
        {"nope": []},
    ]
    for body in bodies:
        assert (await http.post("/_sim/faults", json=body)).status_code == 400
    assert (await stats(http))["faults_pending"] == 0


# -- sender ordering, reset, robustness ---------------------------------------------------


async def test_out_of_order_counts_a_lower_version_sent_after_a_higher_one(
    http: httpx.AsyncClient,
) -> None:
    await post_records(http, [record("B-1", 1), record("B-1", 2), record("B-2", 1)])
    assert (await stats(http))["out_of_order"] == 0

    await add_faults(http, {"kind": "unavailable"})
    await signed(http, "POST", "/v1/records", {"records": [record("B-2", 5)]})
    [result] = await post_records(http, [record("B-1", 1)])

    assert result["status"] == "stale"
    counters = await stats(http)
    assert counters["out_of_order"] == 1
    # B-2 v5 was refused with 503 but was sent: going back to v3 is out of order too.
    await post_records(http, [record("B-2", 3)])
    assert (await stats(http))["out_of_order"] == 2


async def test_reset_forgets_records_feed_faults_and_counters(http: httpx.AsyncClient) -> None:
    await post_records(http, [record()])
    await http.post("/_sim/feed", json={"items": [record("X-1")]})
    await add_faults(http, {"kind": "unavailable"})

    assert (await http.post("/_sim/reset")).status_code == 200

    counters = await stats(http)
    assert (counters["records"], counters["faults_pending"], counters["requests"]) == (0, 0, 0)
    assert (await signed(http, "GET", "/v1/changes")).json()["items"] == []
    [result] = await post_records(http, [record()])
    assert (result["status"], result["receipt_id"]) == ("accepted", "R-000001")


async def test_keep_alive_serves_several_requests_on_one_connection(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /_sim/stats HTTP/1.1\r\nHost: sim\r\n\r\n"
    writer.write(request * 3)
    await writer.drain()
    answers = 0
    data = b""
    while answers < 3:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk, "the server closed a keep-alive connection"
        data += chunk
        answers = data.count(b"HTTP/1.1 200")
    writer.close()
    await writer.wait_closed()


async def test_malformed_http_is_400_and_the_server_keeps_serving(
    base_url: str, http: httpx.AsyncClient
) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)  # read() to EOF: it closes
    assert answer.startswith(b"HTTP/1.1 400")
    writer.close()
    await writer.wait_closed()

    assert (await http.get("/_sim/stats")).status_code == 200


async def test_an_error_in_handling_is_500_and_the_server_keeps_serving(
    http: httpx.AsyncClient, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim, "handle", broken)
    response = await http.get("/_sim/stats")
    assert (response.status_code, response.json()) == (500, {"error": "internal_error"})
    monkeypatch.undo()
    assert (await http.get("/_sim/stats")).status_code == 200


# -- the command -----------------------------------------------------------------------


async def test_the_cli_command_serves_until_sigterm() -> None:
    cli = Path(sys.executable).parent / "credit-service"
    process = await asyncio.create_subprocess_exec(
        str(cli), "simulator", "--port", "0", "--client", "hz-mz=s3cret",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.removeprefix("simulator listening on ")
        assert not url.endswith(":0")

        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            results = await post_records(http, [record()], client_id="hz-mz", secret="s3cret")
            assert results[0]["status"] == "accepted"
            demo = await signed(http, "GET", "/v1/records/B-1")  # no default client now
            assert demo.status_code == 401

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
