"""The reviewers' pages over HTTP on the live server, signed in as staff would be:

- the queue orders entries by their next deadline and counts what is overdue;
- the region filter stays within the reviewer's region (403 outside, 422 for a bad code),
  and an entry of another region is not shown;
- a step form sent twice (a double click, a reload) takes the step once;
- the proposer is offered no ruling, and a forged one is refused with a 403 page;
- a bad form is answered at its fields, never with a 500.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from conftest import MakeToken, MovableClock, bearer
from factories import abuse_body, institution_body, make_uscc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from staff_accounts import csrf_token, enrol, new_staff, sign_in

from service.actor import Actor, Role
from service.auth.models import User
from service.clock import CHINA_TZ
from service.config import Settings
from service.context import CommandContext
from service.listing.schemas import ProposalIn
from service.listing.service import propose
from service.policy.document import ListType, SubjectType
from service.wiring import PIPELINE

Headers = dict[str, str]
SignIn = Callable[..., Awaitable[httpx.AsyncClient]]  # (login, region="3305")
ROW_SUBJECT = re.compile(r'<th scope="row" data-label="[^"]+"><a href="/staff/entries/([0-9a-f-]+)')


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ).astimezone(UTC)


@pytest.fixture
async def staff_clients(
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> AsyncIterator[SignIn]:
    """Sign in a reviewer (enrolled with a second factor) in a client of their own; asked
    again for the same login (after the clock moved on), sign them in again."""
    assert test_settings.secret_key is not None
    secret_key = test_settings.secret_key
    opened: dict[str, tuple[httpx.AsyncClient, str | None]] = {}

    async def signed_in(login: str, region: str = "3305") -> httpx.AsyncClient:
        if login in opened:
            client, secret = opened[login]
        else:
            token = await new_staff(
                session_factory, secret_key, login=login, role="reviewer", region=region,
                clock=clock,
            )  # fmt: skip
            client = httpx.AsyncClient(base_url=live_server, timeout=30)
            secret = await enrol(client, token, now=clock())
            opened[login] = client, secret
        await sign_in(client, login, secret=secret, now=clock() + timedelta(seconds=30))
        return client

    yield signed_in
    for client, _ in opened.values():
        await client.aclose()


async def user_id(sessions: async_sessionmaker[AsyncSession], login: str) -> uuid.UUID:
    async with sessions() as session:
        found = await session.scalar(sa.select(col(User.id)).where(col(User.login) == login))
    assert found is not None
    return found


async def institution(client: httpx.AsyncClient, admin: Headers, n: int, **extra: str) -> str:
    answer = await client.post(
        "/api/v1/institutions", json=institution_body(n, **extra), headers=admin
    )
    assert answer.status_code == 201, answer.text
    identifier: str = answer.json()["id"]
    return identifier


async def proposed(client: httpx.AsyncClient, headers: Headers, subject: str) -> str:
    answer = await client.post(
        "/api/v1/list-entries",
        json={"list_type": "watch", "subject_kind": "institution", "subject_id": subject,
              "reason_code": "WATCH_OTHER", "basis": "多次检查发现同类问题"},
        headers=headers,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    identifier: str = answer.json()["id"]
    return identifier


async def api_step(
    client: httpx.AsyncClient, headers: Headers, entry: str, action: str, body: dict[str, object]
) -> None:
    answer = await client.post(f"/api/v1/list-entries/{entry}/{action}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def queue_order(page: str) -> list[str]:
    return ROW_SUBJECT.findall(page)


async def test_the_queue_puts_the_next_deadline_first_and_counts_what_is_overdue(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305"))
    decider = bearer(await make_token("reviewer", "3305"))
    clock.set(at("2026-03-02"))  # a Monday
    homes = [await institution(client, admin, n) for n in range(1, 6)]
    waiting, late_decision, later_decision, to_publish, fresh = [
        await proposed(client, inspector, home) for home in homes
    ]
    # Notified on 2 March: objections until 9 March, the decision due on 10 March.
    await api_step(client, inspector, late_decision, "notify", {})
    await api_step(client, inspector, to_publish, "notify", {})
    clock.set(at("2026-03-10"))
    # Decided on 10 March: to be published within 7 working days, by 19 March.
    await api_step(
        client, decider, to_publish, "decision",
        {"list": True, "comment": "事实清楚", "basis_document": "莲民信决〔2026〕1号"},
    )  # fmt: skip
    # Notified on 10 March: objections until 17 March, the decision due on 18 March.
    await api_step(client, inspector, later_decision, "notify", {})
    clock.set(at("2026-03-23"))  # a Monday
    await api_step(client, inspector, fresh, "notify", {})  # objections until 30 March

    reviewer = await staff_clients("zhao.sh", "3305")
    page = await reviewer.get("/staff/queue", params={"lang": "zh"})
    assert page.status_code == 200, page.text
    assert queue_order(page.text) == [waiting, late_decision, later_decision, to_publish, fresh]
    assert "逾期 3 项" in page.text  # two decisions and one publication
    assert "作出决定 2" in page.text
    assert "公示 1" in page.text
    assert "逾期 9 个工作日" in page.text  # the decision due on 10 March
    assert "还剩 5 个工作日" in page.text  # the fresh notice's window

    only_listed = await reviewer.get("/staff/queue", params={"status": "listed", "lang": "en"})
    assert queue_order(only_listed.text) == [to_publish]
    assert "1 overdue" in only_listed.text
    red = await reviewer.get("/staff/queue", params={"list_type": "red"})
    assert queue_order(red.text) == []
    assert "没有需要处理的条目" in red.text


async def test_the_region_filter_stays_within_the_reviewers_region(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
) -> None:
    admin = bearer(await make_token("admin"))
    clock.set(at("2026-03-02"))
    here = await proposed(client, admin, await institution(client, admin, 1))
    elsewhere_home = await institution(
        client, admin, 2, uscc=make_uscc(2, "330102"), region_code="330102"
    )
    elsewhere = await proposed(client, admin, elsewhere_home)
    reviewer = await staff_clients("qian.sh", "3305")

    mine = await reviewer.get("/staff/queue")
    assert queue_order(mine.text) == [here]
    narrower = await reviewer.get("/staff/queue", params={"region": "330522"})
    assert queue_order(narrower.text) == [here]

    outside = await reviewer.get("/staff/queue", params={"region": "3301"})
    assert outside.status_code == 403
    assert "text/html" in outside.headers["content-type"]
    assert elsewhere not in outside.text
    bad = await reviewer.get("/staff/queue", params={"region": "33x", "status": "nonsense"})
    assert bad.status_code == 422
    assert 'id="filter-status"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    not_mine = await reviewer.get(f"/staff/entries/{elsewhere}")
    assert not_mine.status_code == 403
    assert "text/html" in not_mine.headers["content-type"]


async def test_a_step_form_sent_twice_takes_the_step_once(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    admin = bearer(await make_token("admin"))
    clock.set(at("2026-03-02"))
    entry = await proposed(client, admin, await institution(client, admin, 1))
    reviewer = await staff_clients("sun.sh", "3305")

    page = await reviewer.get(f"/staff/entries/{entry}")
    assert page.status_code == 200, page.text
    key = re.search(
        r'steps/notify\?lang=zh".*?name="idempotency_key" value="([^"]+)"', page.text, re.S
    )
    assert key
    form = {"csrf_token": csrf_token(page.text), "idempotency_key": key.group(1),
            "basis_document": "莲民信告〔2026〕7号", "comment": ""}  # fmt: skip
    first = await reviewer.post(f"/staff/entries/{entry}/steps/notify", data=form)
    again = await reviewer.post(f"/staff/entries/{entry}/steps/notify", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    async with session_factory() as session:
        steps = await session.scalar(
            sa.text(
                "SELECT count(*) FROM list_transitions WHERE entry_id = :e AND action = 'notify'"
            ),
            {"e": entry},
        )
        documents = await session.scalar(
            sa.text("SELECT count(*) FROM list_notices WHERE entry_id = :e"), {"e": entry}
        )
    assert (steps, documents) == (1, 1)

    shown = await reviewer.get(first.headers["location"])
    assert "已完成：送达告知书。" in shown.text
    assert "莲民信告〔2026〕7号" in shown.text
    # The same form with a new key: the step no longer fits, said on the page (409).
    form["idempotency_key"] = str(uuid.uuid4())
    late = await reviewer.post(f"/staff/entries/{entry}/steps/notify", data=form)
    assert late.status_code == 409
    assert "不能执行“告知”" in late.text


async def test_a_step_form_sent_as_multipart_twice_takes_the_step_once(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A form may come multipart (with a file nobody asked for), and a resend comes under
    another boundary: the step is taken once, and the answer comes at once, not a hang."""
    admin = bearer(await make_token("admin"))
    clock.set(at("2026-03-02"))
    entry = await proposed(client, admin, await institution(client, admin, 2))
    reviewer = await staff_clients("sun.sh", "3305")
    page = await reviewer.get(f"/staff/entries/{entry}")
    key = re.search(
        r'steps/notify\?lang=zh".*?name="idempotency_key" value="([^"]+)"', page.text, re.S
    )
    assert key
    form = {"csrf_token": csrf_token(page.text), "idempotency_key": key.group(1),
            "basis_document": "莲民信告〔2026〕8号", "comment": ""}  # fmt: skip
    extra = {"evidence": ("note.txt", b"not asked for", "text/plain")}
    url = f"/staff/entries/{entry}/steps/notify"
    first = await reviewer.post(url, data=form, files=extra, timeout=20)
    again = await reviewer.post(url, data=form, files=extra, timeout=20)
    assert (first.status_code, again.status_code) == (303, 303), first.text
    assert again.headers.get("idempotent-replayed") == "true"
    async with session_factory() as session:
        steps = await session.scalar(
            sa.text(
                "SELECT count(*) FROM list_transitions WHERE entry_id = :e AND action = 'notify'"
            ),
            {"e": entry},
        )
    assert steps == 1


async def test_the_proposer_is_offered_no_ruling_and_a_forged_one_is_refused(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    admin = bearer(await make_token("admin"))
    clock.set(at("2026-03-02"))
    home = await institution(client, admin, 1)
    proposer = await staff_clients("li", "3305")
    other = await staff_clients("wu", "3305")
    actor = Actor(await user_id(session_factory, "li"), Role.REVIEWER, "3305")
    async with session_factory() as session, session.begin():
        entry = await propose(
            session,
            CommandContext(actor=actor, clock=clock, pipeline=PIPELINE),
            ProposalIn(list_type=ListType.WATCH, subject_kind=SubjectType.INSTITUTION,
                       subject_id=uuid.UUID(home), reason_code="WATCH_OTHER", basis="检查发现问题"),
        )  # fmt: skip
        entry_id = str(entry.id)
    await api_step(client, admin, entry_id, "notify", {})
    clock.set(at("2026-03-10"))  # the window (to 9 March) is over
    await staff_clients("li")
    await staff_clients("wu")

    page = await proposer.get(f"/staff/entries/{entry_id}")
    assert page.status_code == 200, page.text
    assert 'id="four-eyes"' in page.text
    assert "steps/decision" not in page.text
    assert 'value="list"' not in page.text
    forged = await proposer.post(
        f"/staff/entries/{entry_id}/steps/decision",
        data={"csrf_token": csrf_token(page.text), "idempotency_key": str(uuid.uuid4()),
              "choice": "list", "comment": "自己决定", "basis_document": "伪造〔2026〕1号"},
    )  # fmt: skip
    assert forged.status_code == 403
    assert "text/html" in forged.headers["content-type"]
    assert "四眼原则" in forged.text

    theirs = await other.get(f"/staff/entries/{entry_id}")
    assert "steps/decision" in theirs.text
    # A blank required field: answered at the field, linked to it, nothing taken.
    blank = await other.post(
        f"/staff/entries/{entry_id}/steps/decision",
        data={"csrf_token": csrf_token(theirs.text), "idempotency_key": str(uuid.uuid4()),
              "choice": "list", "comment": "事实清楚", "basis_document": ""},
    )  # fmt: skip
    assert blank.status_code == 422
    assert 'id="decision-basis_document-error"' in blank.text
    assert 'href="#decision-basis_document"' in blank.text
    nul = await other.post(
        f"/staff/entries/{entry_id}/steps/decision",
        data={"csrf_token": csrf_token(theirs.text), "choice": "list", "comment": "a\x00b",
              "basis_document": "x"},
    )  # fmt: skip
    assert nul.status_code == 422
    unknown = await other.post(
        f"/staff/entries/{entry_id}/steps/nonsense", data={"csrf_token": csrf_token(theirs.text)}
    )
    assert unknown.status_code == 404
    decided = await other.post(
        f"/staff/entries/{entry_id}/steps/decision",
        data={"csrf_token": csrf_token(theirs.text), "idempotency_key": str(uuid.uuid4()),
              "choice": "list", "comment": "事实清楚", "basis_document": "莲民信决〔2026〕2号"},
    )  # fmt: skip
    assert decided.status_code == 303, decided.text
    listed = await other.get(decided.headers["location"])
    assert "已决定列入" in listed.text
    assert "列入重点关注名单决定书" in listed.text


async def test_a_repair_application_shows_each_condition_and_is_decided_by_another_reviewer(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    staff_clients: SignIn,
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305"))
    decider = bearer(await make_token("reviewer", "3305"))
    clock.set(at("2026-03-02"))
    home = await institution(client, admin, 1)
    finding = await client.post(
        "/api/v1/records", params={"confirm": True}, headers=inspector,
        json=abuse_body(home, None, occurred_on="2026-02-20"),
    )  # fmt: skip
    assert finding.status_code == 201, finding.text
    listed = await client.get("/api/v1/list-entries", params={"subject_id": home}, headers=admin)
    (entry,) = [item["id"] for item in listed.json()["items"]]
    await api_step(client, inspector, entry, "notify", {})
    clock.set(at("2026-03-10"))
    await api_step(
        client, decider, entry, "decision",
        {"list": True, "comment": "事实清楚", "basis_document": "莲民信决〔2026〕4号"},
    )  # fmt: skip
    await api_step(client, decider, entry, "publish", {})
    clock.set(at("2026-09-01"))  # six months listed: too soon for repair

    recorder = await staff_clients("zhou.sh")
    page = await recorder.get(f"/staff/entries/{entry}")
    assert "steps/repair-application" in page.text
    recorded = await recorder.post(
        f"/staff/entries/{entry}/steps/repair-application",
        data={"csrf_token": csrf_token(page.text), "idempotency_key": str(uuid.uuid4()),
              "evidence": "整改报告及培训记录", "obligations_fulfilled": "yes",
              "public_commitment": "本机构承诺依法经营"},
    )  # fmt: skip
    assert recorded.status_code == 303, recorded.text
    mine = await recorder.get(recorded.headers["location"])
    assert "本申请由您记录" in mine.text
    assert "/decision" not in mine.text.split('id="repairs-title"')[1].split("</section>")[0]

    reviewer = await staff_clients("wu.sh")
    queue = await reviewer.get("/staff/queue")
    assert queue_order(queue.text) == [entry]
    assert "信用修复审核" in queue.text
    shown = await reviewer.get(f"/staff/entries/{entry}")
    conditions = shown.text.split("<caption>修复条件</caption>")[1].split("</table>")[0]
    assert conditions.count('class="unmet"') == 1  # listed for less than 24 months
    assert conditions.count('class="met"') == 4
    assert "2028-03-10" in conditions  # the first day repair may be granted
    application = re.search(r"/staff/repair-applications/([0-9a-f-]+)/decision", shown.text)
    assert application
    decide_at = f"/staff/repair-applications/{application.group(1)}/decision"
    forged = await recorder.post(
        decide_at,
        data={"csrf_token": csrf_token(mine.text), "choice": "refuse", "comment": "x"},
    )
    assert forged.status_code == 403  # four eyes: not the one who recorded it
    assert "四眼原则" in forged.text
    approve = await reviewer.post(
        decide_at,
        data={"csrf_token": csrf_token(shown.text), "idempotency_key": str(uuid.uuid4()),
              "choice": "approve", "comment": "整改到位"},
    )  # fmt: skip
    assert approve.status_code == 409
    assert "不符合信用修复条件" in approve.text
    refuse = await reviewer.post(
        decide_at,
        data={"csrf_token": csrf_token(shown.text), "idempotency_key": str(uuid.uuid4()),
              "choice": "refuse", "comment": "列入未满二十四个月"},
    )  # fmt: skip
    assert refuse.status_code == 303, refuse.text
    refused = await reviewer.get(refuse.headers["location"])
    assert "不予修复" in refused.text
    assert "不予信用修复决定书" in refused.text
