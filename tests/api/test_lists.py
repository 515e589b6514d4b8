"""Lists with due process, over real HTTP, with the server's clock moved through the days."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import SERVER_CLOCK, MakeToken, MovableClock, bearer, endpoint, serve
from factories import (
    abuse_body,
    complaint_body,
    institution_body,
    make_id_number,
    make_uscc,
    practitioner_body,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.actor import SYSTEM
from service.clock import CHINA_TZ
from service.config import Settings
from service.context import CommandContext
from service.wiring import PIPELINE
from service.worker import run_pass

Headers = dict[str, str]


def at(day: str, hour: int = 10) -> datetime:
    """A moment on a day, China time."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ).astimezone(UTC)


@dataclass
class Webhook:
    """A real HTTP endpoint standing in for the subject's notice address."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to give, then 200


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()

    def answer(body: bytes) -> int:
        status = hook.answers.pop(0) if hook.answers else 200
        if status == 200:
            hook.received.append(json.loads(body))
        return status

    async for url in serve(endpoint(answer)):
        hook.url = url + "/notices"
        yield hook


async def worker_pass(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, webhook: Webhook
) -> Any:
    """One pass of the worker, on the server's clock."""
    ctx = CommandContext(SYSTEM, clock=SERVER_CLOCK, pipeline=PIPELINE)
    async with httpx.AsyncClient(timeout=10) as http:
        return await run_pass(
            sessions, ctx, replace(settings, notice_webhook_url=webhook.url), http
        )


async def sync_state(
    sessions: async_sessionmaker[AsyncSession], record_id: str
) -> tuple[int, str, list[str], dict[str, Any]]:
    """A record's version, action and body as the platforms will get it; its outbox topics."""
    async with sessions() as session:
        version, action, body = (
            await session.execute(
                sa.text("SELECT version, action, body FROM sync_records WHERE record_id = :id"),
                {"id": record_id},
            )
        ).one()
        topics = list(
            (
                await session.execute(
                    sa.text("SELECT topic FROM outbox WHERE key = :id ORDER BY id"),
                    {"id": record_id},
                )
            ).scalars()
        )
    return version, action, topics, body


async def entries_of(
    client: httpx.AsyncClient, headers: Headers, subject_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/list-entries", params={"subject_id": subject_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def step(
    client: httpx.AsyncClient,
    headers: Headers,
    entry: str,
    action: str,
    body: dict[str, Any],
    status: int = 200,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/list-entries/{entry}/{action}", json=body, headers=headers
    )
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_black_listing_from_abuse_to_repair_across_national_day(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
    webhook: Webhook,
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305", name="王建国"))
    reviewer = bearer(await make_token("reviewer", "3305", name="赵审核"))
    subsidy = bearer(await make_token("subsidy_client"))
    clock.set(
        at("2025-09-26")
    )  # a Friday; National Day runs 1-8 October, 28 Sept and 11 Oct are worked
    async with session_factory() as session, session.begin():  # a platform to sync black lists to
        await session.execute(
            sa.text(
                "INSERT INTO sync_platforms (name, record_types, pull, enabled, registered_at,"
                " failures) VALUES ('national', '{blacklist}', false, true, now(), 0)"
            )
        )
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    person = (
        await client.post("/api/v1/practitioners", json=practitioner_body(1), headers=admin)
    ).json()["id"]

    # 1. An abuse finding with actual harm proposes both subjects for the black list by itself.
    finding = await client.post(
        "/api/v1/records",
        json=abuse_body(home, person, occurred_on="2025-09-20"),
        params={"confirm": True},
        headers=inspector,
    )
    assert finding.status_code == 201, finding.text
    (entry,) = await entries_of(client, inspector, home)
    (person_entry,) = await entries_of(client, inspector, person)
    assert (entry["list_type"], entry["status"], entry["reason_code"]) == (
        "black",
        "proposed",
        "ABUSE_ACTUAL_HARM",
    )
    assert entry["trigger_record_id"] == finding.json()["id"]
    assert entry["allowed_actions"] == ["notify", "withdraw"]
    assert [m["code"] for m in entry["measures"]] == [
        "RESTRICT_SUBSIDIES", "RESTRICT_PROCUREMENT", "SUSPEND_STAR_RATING", "MORE_FREQUENT_INSPECTION",
    ]  # fmt: skip

    # 2. The notice: five working days to object, counted across the holiday: 28 and
    #    29 and 30 September, then 9 and 10 October.
    notified = await step(
        client, inspector, entry["id"], "notify", {"basis_document": "湖民信告〔2025〕3号"}
    )
    assert notified["status"] == "notified"
    assert notified["objection_deadline"] == "2025-10-10"
    assert notified["deadline_by_fallback"] is False
    await step(client, inspector, person_entry["id"], "notify", {})
    sent = await worker_pass(session_factory, test_settings, webhook)
    assert sent.delivered == 2
    letter = next(n for n in webhook.received if n["entry_id"] == entry["id"])
    assert letter["objection_deadline"] == "2025-10-10"
    assert "截至2025年10月10日（含当日）" in letter["document"]
    assert "莲都区第1颐养院" in letter["document"]
    assert "限制享受财政补贴、奖补资金（依据：民发〔2019〕103号）" in letter["document"]
    detail = (await client.get(f"/api/v1/list-entries/{entry['id']}", headers=inspector)).json()
    assert detail["notices"][0]["delivered_at"] is not None

    # 3. No decision while the subject may still object.
    early = await step(
        client, reviewer, entry["id"], "decision",
        {"list": True, "comment": "事实清楚", "basis_document": "湖民信决〔2025〕1号"}, 409,
    )  # fmt: skip
    assert "2025-10-10" in early["detail"]

    # 4. On the last day (a Friday after the holiday) the objection is still in time;
    #    the next day, a 调休 Saturday that is a working day, it is too late.
    clock.set(at("2025-10-10", 16))
    objection = {
        "filed_by_name": "李院长",
        "statement": "护理员系个人行为，机构已解除劳动合同",
        "evidence": "解除合同通知书",
    }
    objected = await step(client, inspector, entry["id"], "objections", objection)
    assert objected["status"] == "objected"
    clock.set(at("2025-10-11"))
    late = await step(
        client,
        inspector,
        person_entry["id"],
        "objections",
        {**objection, "filed_by_name": "张晓明"},
        409,
    )
    assert "ended on 2025-10-10" in late["detail"]

    # 5. Four eyes: a reviewer who proposed may not decide; the objection is ruled on,
    #    then the decision, with the publication window in working days.
    own = bearer(await make_token("reviewer", "3305", name="钱提议"))
    manual = await client.post(
        "/api/v1/list-entries",
        json={"list_type": "watch", "subject_kind": "institution", "subject_id": home,
              "reason_code": "WATCH_OTHER", "basis": "多次投诉"},
        headers=own,
    )  # fmt: skip
    assert manual.status_code == 201, manual.text
    await step(client, own, manual.json()["id"], "notify", {})
    clock.set(at("2025-10-20"))
    refused = await step(
        client, own, manual.json()["id"], "decision",
        {"list": True, "comment": "自行决定", "basis_document": "x"}, 403,
    )  # fmt: skip
    assert "four eyes" in refused["detail"]
    clock.set(at("2025-10-13"))
    rejected = await step(
        client, reviewer, entry["id"], "objection-decision",
        {"uphold": False, "resolution": "机构未尽管理义务，异议不成立"},
    )  # fmt: skip
    assert rejected["status"] == "objection_rejected"
    decided = await step(
        client, reviewer, entry["id"], "decision",
        {"list": True, "comment": "列入", "basis_document": "湖民信决〔2025〕1号"},
    )  # fmt: skip
    assert decided["status"] == "listed"
    assert decided["publish_by"] == "2025-10-22"  # 7 working days after 13 October
    clock.set(at("2025-10-14"))
    published = await step(
        client, reviewer, entry["id"], "publish", {"basis_document": "湖民信公〔2025〕1号"}
    )
    assert (published["status"], published["effective_from"], published["effective_to"]) == (
        "published", "2025-10-14", "2028-10-13",
    )  # fmt: skip
    # Publication queued the entry for the platform, in the same transaction.
    synced = await sync_state(session_factory, f"BL-{entry['id']}")
    assert synced[:3] == (1, "publish", ["sync:national"])
    assert synced[3]["decision_no"] == "湖民信决〔2025〕1号"
    assert synced[3]["subject"] == {"kind": "org", "name": "莲都区第1颐养院", "uscc": make_uscc(1)}
    assert (synced[3]["effective_from"], synced[3]["effective_to"]) == ("2025-10-14", "2028-10-13")

    # 6. The listing's measures apply: no subsidy, stars suspended.
    answer = (
        await client.post(
            "/api/v1/eligibility",
            json={"program": "construction_subsidy", "subjects": [{"uscc": make_uscc(1)}]},
            headers=subsidy,
        )
    ).json()["answers"][0]
    assert (answer["eligible"], answer["lists"]) == (False, ["black"])
    assert "LISTED_INELIGIBLE" in answer["reasons"]

    # 7. Credit repair: too early at first, then granted by a second person.
    repair = {
        "evidence": "整改报告及第三方评估",
        "obligations_fulfilled": True,
        "public_commitment": "本单位承诺依法诚信经营",
    }
    applied = await client.post(
        f"/api/v1/list-entries/{entry['id']}/repair-applications", json=repair, headers=reviewer
    )
    assert applied.status_code == 201, applied.text
    url = f"/api/v1/repair-applications/{applied.json()['id']}/decision"
    self_review = await client.post(
        url, json={"approve": True, "comment": "同意"}, headers=reviewer
    )
    assert self_review.status_code == 403
    other = bearer(await make_token("reviewer", "33", name="孙复核"))
    too_early = await client.post(url, json={"approve": True, "comment": "同意"}, headers=other)
    assert too_early.status_code == 409
    assert "2027-10-14" in too_early.json()["detail"]
    refused_repair = await client.post(
        url, json={"approve": False, "comment": "未满两年"}, headers=other
    )
    assert refused_repair.json()["status"] == "refused"
    clock.set(at("2027-10-15"))
    again = await client.post(
        f"/api/v1/list-entries/{entry['id']}/repair-applications", json=repair, headers=inspector
    )
    granted = await client.post(
        f"/api/v1/repair-applications/{again.json()['id']}/decision",
        json={"approve": True, "comment": "满足信用修复条件"},
        headers=other,
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["unmet"] == []
    synced = await sync_state(session_factory, f"BL-{entry['id']}")  # repaired: withdrawn
    assert synced[:3] == (2, "withdraw", ["sync:national", "sync:national"])

    # 8. The whole history, step by step, replays from rows.
    detail = (await client.get(f"/api/v1/list-entries/{entry['id']}", headers=inspector)).json()
    assert detail["entry"]["status"] == "ended"
    assert detail["entry"]["end_reason"] == "repaired"
    assert [(t["seq"], t["action"], t["to_status"]) for t in detail["transitions"]] == [
        (1, "propose", "proposed"),
        (2, "notify", "notified"),
        (3, "object", "objected"),
        (4, "reject_objection", "objection_rejected"),
        (5, "decide_list", "listed"),
        (6, "publish", "published"),
        (7, "repair", "ended"),
    ]
    assert detail["transitions"][0]["actor_role"] == "system"
    assert detail["transitions"][4]["basis_document"] == "湖民信决〔2025〕1号"
    assert [o["status"] for o in detail["objections"]] == ["rejected"]


async def test_an_illegal_step_is_refused_naming_the_allowed_ones(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, reviewer: Headers
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    proposal = {"list_type": "watch", "subject_kind": "institution", "subject_id": home,
                "reason_code": "WATCH_OTHER", "basis": "连续两次检查发现同类问题"}  # fmt: skip
    created = await client.post("/api/v1/list-entries", json=proposal, headers=inspector)
    assert created.status_code == 201
    refused = await step(client, reviewer, created.json()["id"], "publish", {}, 409)
    assert (
        refused["detail"] == "an entry that is proposed cannot publish; allowed: notify, withdraw"
    )
    twice = await client.post("/api/v1/list-entries", json=proposal, headers=inspector)
    assert twice.status_code == 409
    assert created.json()["id"] in twice.json()["detail"]


async def test_a_proposal_by_hand_gives_a_reason_the_policy_defines_for_its_list(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    proposal = {"list_type": "black", "subject_kind": "institution", "subject_id": home,
                "reason_code": "WATCH_OTHER", "basis": "多次投诉"}  # a watch-list reason  # fmt: skip
    refused = await client.post("/api/v1/list-entries", json=proposal, headers=inspector)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["field"] == "reason_code"
    assert "SERIOUS_VIOLATION" in problem["errors"][0]["message"]  # what it may give instead
    made_up = await client.post(
        "/api/v1/list-entries", json=proposal | {"reason_code": "MANUAL"}, headers=inspector
    )
    assert made_up.status_code == 422
    accepted = await client.post(
        "/api/v1/list-entries",
        json=proposal | {"reason_code": "SERIOUS_VIOLATION"},
        headers=inspector,
    )
    assert accepted.status_code == 201, accepted.text


async def test_a_black_listed_practitioner_cannot_be_employed_without_a_reviewers_override(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    reviewer: Headers,
    make_token: MakeToken,
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    other_home = (
        await client.post("/api/v1/institutions", json=institution_body(2), headers=admin)
    ).json()["id"]
    person = (
        await client.post("/api/v1/practitioners", json=practitioner_body(4), headers=admin)
    ).json()["id"]
    job = {
        "institution_id": home,
        "practitioner_id": person,
        "role": "caregiver",
        "start_date": "2026-01-01",
    }
    assert (
        await client.post("/api/v1/employments", json=job, headers=inspector)
    ).status_code == 201
    proposal = {"list_type": "black", "subject_kind": "practitioner", "subject_id": person,
                "reason_code": "SERIOUS_VIOLATION", "basis": "法院判决认定虐待老人"}  # fmt: skip
    entry = (await client.post("/api/v1/list-entries", json=proposal, headers=inspector)).json()
    await step(client, inspector, entry["id"], "notify", {})
    await step(
        client,
        inspector,
        entry["id"],
        "objections",
        {"filed_by_name": "张晓明", "statement": "不服"},
    )
    await step(
        client,
        reviewer,
        entry["id"],
        "objection-decision",
        {"uphold": False, "resolution": "不成立"},
    )
    await step(
        client,
        reviewer,
        entry["id"],
        "decision",
        {"list": True, "comment": "列入", "basis_document": "d"},
    )
    await step(client, reviewer, entry["id"], "publish", {})

    new_job = {**job, "institution_id": other_home}
    refused = await client.post("/api/v1/employments", json=new_job, headers=inspector)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "practitioner_id"
    by_inspector = await client.post(
        "/api/v1/employments", json={**new_job, "override_reason": "x"}, headers=inspector
    )
    assert by_inspector.status_code == 422  # an inspector may employ, not override a bar
    assert by_inspector.json()["errors"][0]["field"] == "override_reason"
    allowed = await client.post(
        "/api/v1/employments",
        json={**new_job, "override_reason": "仅从事后勤，不接触老人"},
        headers=reviewer,
    )
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["override_reason"] == "仅从事后勤，不接触老人"
    standing = (await client.get(f"/api/v1/institutions/{home}/credit", headers=admin)).json()
    assert standing["barred_practitioners"] == [person]
    subsidy = bearer(await make_token("subsidy_client"))
    answer = (
        await client.post(
            "/api/v1/eligibility",
            json={
                "program": "construction_subsidy",
                "subjects": [{"uscc": make_uscc(1)}, {"id_number": make_id_number(4)}],
            },
            headers=subsidy,
        )
    ).json()["answers"]
    assert answer[0]["reasons"] == ["ELIGIBLE", "EMPLOYS_BARRED_PRACTITIONER"]
    assert (answer[0]["eligible"], answer[0]["review"]) == (True, True)
    assert answer[1]["lists"] == ["black"]


async def test_watch_list_proposals_follow_grades_and_complaints(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    today = datetime.now(CHINA_TZ)
    for days in (40, 20):
        body = complaint_body(home, occurred_on=(today - timedelta(days=days)).date().isoformat())
        response = await client.post(
            "/api/v1/records", json=body, params={"confirm": True}, headers=inspector
        )
        assert response.status_code == 201
    (entry,) = await entries_of(client, inspector, home)
    assert (entry["list_type"], entry["reason_code"]) == ("watch", "WATCH_COMPLAINTS")
    assert "2 substantiated complaints" in entry["basis"]


async def test_notices_that_fail_are_retried_later(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
    webhook: Webhook,
    clock: MovableClock,
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    proposal = {"list_type": "watch", "subject_kind": "institution", "subject_id": home,
                "reason_code": "WATCH_OTHER", "basis": "x"}  # fmt: skip
    entry = (await client.post("/api/v1/list-entries", json=proposal, headers=inspector)).json()
    await step(client, inspector, entry["id"], "notify", {})
    webhook.answers = [503]
    first = await worker_pass(session_factory, test_settings, webhook)
    assert (first.delivered, first.failed) == (0, 1)
    second = await worker_pass(session_factory, test_settings, webhook)
    assert (second.delivered, second.failed) == (0, 0)  # not due again yet
    clock.set(datetime.now(UTC) + timedelta(seconds=5))
    third = await worker_pass(session_factory, test_settings, webhook)
    assert (third.delivered, third.failed) == (1, 0)
    assert [n["entry_id"] for n in webhook.received] == [entry["id"]]
    async with session_factory() as session:
        attempts = await session.scalar(sa.text("SELECT attempts FROM outbox"))
    assert attempts == 2
