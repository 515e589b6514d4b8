"""The platform simulator over real HTTP, as the sync tests use it: protocol v1 as a
platform answers it (per-record outcomes, signatures, digest, changes feed) and each
fault it injects on request."""

from __future__ import annotations

import asyncio
import functools
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


async def test_a_batch_is_answered_record_by_record_as_protocol_v1_says(
    http: httpx.AsyncClient,
) -> None:
    person = record(
        "W-9", record_type="watchlist",
        subject={"kind": "person", "name": "张三", "id_number": make_id_number(3)},
    )  # fmt: skip
    accepted = await post_records(http, [record("B-1", 2), person])
    assert [(r["record_id"], r["status"]) for r in accepted] == [
        ("B-1", "accepted"),
        ("W-9", "accepted"),
    ]
    assert len({r["receipt_id"] for r in accepted}) == 2
    assert all(r["receipt_id"].startswith("R-") for r in accepted)

    # Each record has its own outcome, in the batch's order; a bad one spoils no other.
    results = await post_records(
        http,
        [
            record("B-1", 2),
            record("B-1", 1),
            record("B-2", subject={"kind": "org", "name": "某院", "uscc": "91330500MA2B3C4D5X"}),
            {k: v for k, v in record("B-3").items() if k != "decision_no"},
            record("B-4"),
            record("B-4", 2),
            record("B-4", 2),
        ],
    )
    assert [r["status"] for r in results] == [
        "duplicate", "stale", "rejected", "rejected", "accepted", "accepted", "duplicate",
    ]  # fmt: skip
    assert results[0]["receipt_id"] == accepted[0]["receipt_id"]
    assert results[6]["receipt_id"] == results[5]["receipt_id"]
    assert (results[2]["reason"], results[3]["reason"]) == (
        "invalid_uscc",
        "missing_field:decision_no",
    )
    for record_id, expected in [("B-2", 404), ("B-3", 404), ("B-4", 200)]:
        assert (await signed(http, "GET", f"/v1/records/{record_id}")).status_code == expected

    # A higher version replaces the stored one; a withdrawal is held as withdrawn.
    [withdrawn] = await post_records(http, [record("B-1", 3, action="withdraw")])
    held = (await signed(http, "GET", "/v1/records/B-1")).json()
    assert (held["status"], held["version"], held["receipt_id"]) == (
        "withdrawn",
        3,
        withdrawn["receipt_id"],
    )
    assert held["record"]["action"] == "withdraw"
    counters = await stats(http)
    assert (counters["accepted"], counters["duplicate"], counters["stale"]) == (5, 2, 1)
    assert (counters["rejected"], counters["batches"]) == (2, 3)


async def test_record_ids_are_per_client_and_read_back_by_their_encoded_path(
    http: httpx.AsyncClient,
) -> None:
    await post_records(http, [record("HZ/2026 黑-1")])
    found = await signed(http, "GET", "/v1/records/HZ%2F2026%20%E9%BB%91-1")
    assert found.status_code == 200
    assert (found.json()["record"]["record_id"], found.json()["status"]) == (
        "HZ/2026 黑-1",
        "in_force",
    )
    missing = await signed(http, "GET", "/v1/records/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})

    other = {"client_id": "other", "secret": "other-secret"}
    [result] = await post_records(http, [record("HZ/2026 黑-1")], **other)
    assert result["status"] == "accepted"  # the same id from another client is another record
    listed = (await http.get("/_sim/records", params={"client_id": "other"})).json()
    assert [(r["client_id"], r["record"]["record_id"]) for r in listed["records"]] == [
        ("other", "HZ/2026 黑-1")
    ]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "body_not_an_object"),
        (b'{"items": []}', "missing_field:records"),
        (b'{"records": []}', "empty_batch"),
        (httpx.Request("POST", "/", json={"records": [record(f"B-{n}") for n in range(501)]}).read(),
         "batch_too_large"),
    ],
    ids=["not-json", "not-an-object", "no-records", "empty", "501-records"],
)  # fmt: skip
async def test_a_malformed_or_oversized_batch_is_400_and_stores_nothing(
    http: httpx.AsyncClient, content: bytes, error: str
) -> None:
    response = await signed(http, "POST", "/v1/records", content=content)
    assert response.status_code == 400
    assert error in response.json()["error"]
    counters = await stats(http)
    assert (counters["records"], counters["batches"], counters["accepted"]) == (0, 0, 0)


# -- authentication --------------------------------------------------------------------


async def test_only_an_authentic_fresh_request_is_served(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    wrong = await signed(http, "POST", "/v1/records", {"records": [record()]}, secret="guess")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "bad_signature"})
    unknown = await signed(http, "GET", "/v1/records/B-1", client_id="nobody")
    assert (unknown.status_code, unknown.json()) == (401, {"error": "bad_signature"})

    content = b'{"records": []}'
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signed_headers = {
        "X-Client-Id": "demo",
        "X-Timestamp": stamp,
        "X-Nonce": nonce,
        "X-Signature": signature(SECRET, "POST", "/v1/records", stamp, nonce, content),
    }
    tampered = httpx.Request("POST", "/", json={"records": [record()]}).read()
    changed = await http.post("/v1/records", content=tampered, headers=signed_headers)
    assert (changed.status_code, changed.json()) == (401, {"error": "bad_signature"})
    assert (await stats(http))["records"] == 0

    # A forged request burns no nonce; the genuine one does, once.
    reused = "replay-me-" + secrets.token_hex(8)
    forged = await signed(http, "GET", "/v1/records/B-1", nonce=reused, secret="guess")
    assert forged.json() == {"error": "bad_signature"}
    assert (await signed(http, "GET", "/v1/records/B-1", nonce=reused)).status_code == 404
    again = await signed(http, "GET", "/v1/records/B-1", nonce=reused)
    assert (again.status_code, again.json()) == (401, {"error": "replayed_nonce"})

    # The platform's clock allows 300 seconds of skew either way, and forgets a nonce
    # 600 seconds after it was used.
    now = time.time()
    for offset, status in ((301, 401), (299, 404), (-299, 404)):
        sim.clock = functools.partial(float, now + offset)
        answer = await signed(http, "GET", "/v1/records/B-1", timestamp=int(now))
        assert answer.status_code == status, offset
    sim.clock = lambda: now
    remembered = secrets.token_hex(16)
    await signed(http, "GET", "/v1/records/B-1", nonce=remembered, timestamp=int(now))
    sim.clock = lambda: now + 601
    later = await signed(http, "GET", "/v1/records/B-1", nonce=remembered, timestamp=int(now + 601))
    assert later.status_code == 404


@pytest.mark.parametrize(
    ("drop", "replace", "error"),
    [
        ("X-Nonce", None, "missing_header:X-Nonce"),
        ("X-Signature", None, "missing_header:X-Signature"),
        ("X-Client-Id", None, "missing_header:X-Client-Id"),
        (None, ("X-Nonce", "short"), "bad_nonce"),
        (None, ("X-Nonce", "has spaces in it 1234"), "bad_nonce"),
        (None, ("X-Timestamp", "yesterday"), "bad_timestamp"),
        (None, ("X-Timestamp", str(int(time.time()) - 301)), "stale_timestamp"),
    ],
)
async def test_a_missing_or_malformed_header_is_named_in_the_401(
    http: httpx.AsyncClient, drop: str | None, replace: tuple[str, str] | None, error: str
) -> None:
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    if replace and replace[0] == "X-Timestamp":
        stamp = replace[1]
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


async def test_the_digest_and_the_changes_feed_are_what_reconcile_and_pull_read(
    http: httpx.AsyncClient,
) -> None:
    await post_records(
        http,
        [record("B-2"), record("B-1", 3), record("W-1", record_type="watchlist"),
         record("B-9", subject={"kind": "org", "name": "x", "uscc": "bad"})],
    )  # fmt: skip
    before = (await signed(http, "GET", "/v1/digest?record_type=blacklist")).json()
    assert before == {
        "record_type": "blacklist",
        "count": 2,
        "digest": digest_of([("B-1", 3, "in_force"), ("B-2", 1, "in_force")]),
    }
    await post_records(http, [record("B-2", 2, action="withdraw")])
    after = (await signed(http, "GET", "/v1/digest?record_type=blacklist")).json()
    assert after["digest"] == digest_of([("B-1", 3, "in_force"), ("B-2", 2, "withdrawn")])
    empty = (await signed(http, "GET", "/v1/digest?record_type=penalty")).json()
    assert (empty["count"], empty["digest"]) == (0, digest_of([]))

    items = [record(f"X-{n}", record_type="redlist") for n in range(5)]
    assert (await http.post("/_sim/feed", json={"items": items})).json() == {
        "seqs": [1, 2, 3, 4, 5]
    }
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
    assert (caught_up["items"], caught_up["next_cursor"]) == ([], cursor)
    await http.post("/_sim/feed", json={"items": [record("X-new", record_type="redlist")]})
    fresh = (await signed(http, "GET", f"/v1/changes?cursor={cursor}")).json()
    assert [(item["seq"], item["record_id"]) for item in fresh["items"]] == [(6, "X-new")]

    bad = ["/v1/digest", "/v1/digest?record_type=honours", "/v1/changes?limit=0",
           "/v1/changes?limit=1001", "/v1/changes?limit=ten", "/v1/changes?cursor=%25%25%25",
           "/v1/changes?cursor=bm9wZQ"]  # fmt: skip
    for target in bad:
        assert (await signed(http, "GET", target)).status_code == 400, target


# -- faults ------------------------------------------------------------------------------


async def test_refusing_faults_answer_in_the_order_queued_and_store_nothing(
    http: httpx.AsyncClient,
) -> None:
    await add_faults(
        http,
        {"kind": "unavailable", "times": 2},
        {"kind": "rate_limit", "retry_after": 7},
        {"kind": "unavailable", "on": "reads"},
    )
    # A request that fails authentication is not served, so it uses up no fault.
    forged = await signed(http, "POST", "/v1/records", {"records": [record()]}, secret="x")
    assert forged.status_code == 401
    answers = [await signed(http, "POST", "/v1/records", {"records": [record()]}) for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [
        (503, {"error": "unavailable"}),
        (503, {"error": "unavailable"}),
        (429, {"error": "rate_limited"}),
    ]
    assert answers[2].headers["Retry-After"] == "7"
    assert (await stats(http))["records"] == 0
    # The next fault is for reads: a batch passes it by, the next read meets it.
    [result] = await post_records(http, [record()])
    assert result["status"] == "accepted"
    read = await signed(http, "GET", "/v1/records/B-1")
    assert (read.status_code, read.json()) == (503, {"error": "unavailable"})
    assert (await signed(http, "GET", "/v1/records/B-1")).status_code == 200
    counters = await stats(http)
    assert counters["faults_applied"] == {
        "unavailable": 3, "rate_limit": 1, "reset": 0, "slow": 0, "drop_answer": 0,
    }  # fmt: skip
    assert counters["faults_pending"] == 0

    bodies: list[dict[str, Any]] = [
        {"faults": [{"kind": "unavailable"}, {"kind": "meteor"}]},
        {"faults": [{"kind": "slow", "times": 0}]},
        {"faults": [{"kind": "slow", "on": "everything"}]},
        {"nope": []},
    ]
    for body in bodies:
        assert (await http.post("/_sim/faults", json=body)).status_code == 400
    assert (await stats(http))["faults_pending"] == 0


async def test_faults_that_lose_the_answer_store_as_a_platform_would(
    http: httpx.AsyncClient,
) -> None:
    # A reset connection: nothing stored.
    await add_faults(http, {"kind": "reset"})
    with pytest.raises(httpx.TransportError):
        await signed(http, "POST", "/v1/records", {"records": [record()]})
    assert ((await stats(http))["records"], (await stats(http))["batches"]) == (0, 0)

    # An answer dropped after storing: the retry is a duplicate of what was stored.
    await add_faults(http, {"kind": "drop_answer"})
    with pytest.raises(httpx.TransportError):
        await signed(http, "POST", "/v1/records", {"records": [record()]})
    [retry] = await post_records(http, [record()])
    assert retry["status"] == "duplicate"

    # A slow answer: stored even after the sender gave up; a patient sender gets it.
    await add_faults(http, {"kind": "slow", "seconds": 0.5}, {"kind": "slow", "seconds": 0.1})
    with pytest.raises(httpx.ReadTimeout):
        await signed(http, "POST", "/v1/records", {"records": [record("B-2")]}, client_timeout=0.1)
    for _ in range(100):
        if (await signed(http, "GET", "/v1/records/B-2")).status_code == 200:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the slow batch was never stored")
    [patient] = await post_records(http, [record("B-3")])
    assert patient["status"] == "accepted"
    assert (await stats(http))["faults_applied"] == {
        "unavailable": 0, "rate_limit": 0, "reset": 1, "slow": 2, "drop_answer": 1,
    }  # fmt: skip


# -- what the sync tests count, and starting over ----------------------------------------


async def test_out_of_order_counts_a_lower_version_sent_after_a_higher_one_and_reset_forgets(
    http: httpx.AsyncClient,
) -> None:
    await post_records(http, [record("B-1", 1), record("B-1", 2), record("B-2", 1)])
    assert (await stats(http))["out_of_order"] == 0
    await add_faults(http, {"kind": "unavailable"})
    await signed(http, "POST", "/v1/records", {"records": [record("B-2", 5)]})
    [result] = await post_records(http, [record("B-1", 1)])
    assert result["status"] == "stale"
    assert (await stats(http))["out_of_order"] == 1
    # B-2 v5 was refused with 503 but was sent: going back to v3 is out of order too.
    await post_records(http, [record("B-2", 3)])
    assert (await stats(http))["out_of_order"] == 2

    await http.post("/_sim/feed", json={"items": [record("X-1")]})
    await add_faults(http, {"kind": "unavailable"})
    assert (await http.post("/_sim/reset")).status_code == 200
    counters = await stats(http)
    assert (counters["records"], counters["faults_pending"], counters["requests"]) == (0, 0, 0)
    assert counters["out_of_order"] == 0
    assert (await signed(http, "GET", "/v1/changes")).json()["items"] == []
    [again] = await post_records(http, [record()])
    assert (again["status"], again["receipt_id"]) == ("accepted", "R-000001")


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
