"""The documents a subject receives, read as the subject would read them: the prior
notice and every decision, stored with the entry, delivered through the outbox and
printable, stating the facts in Chinese, their legal basis, unambiguous deadlines and,
against the subject, the remedies the policy gives."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from conftest import MakeToken, MovableClock, bearer
from factories import abuse_body, institution_body
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_lists import Headers, Webhook, at, entries_of, step, webhook, worker_pass

from service.config import Settings

__all__ = ["webhook"]  # the subject's notice address, a fixture shared with test_lists

ABUSE_FACTS = (
    "经核查，2025年9月20日，欺老虐老行为认定（文号：莲民认〔2025〕7号）查明：护理员推搡老人致其跌倒。"
    "上述情形属于“在养老服务活动中欺老、虐老，侵害老年人合法权益”。"
)
BLACK_LIST_BASIS = "《养老服务市场失信联合惩戒对象名单管理办法（试行）》（民发〔2019〕103号）"
BOTH_BASES = f"依据《老年人权益保障法》第七十六条、{BLACK_LIST_BASIS}"
REMEDIES = (
    "如不服本决定，你单位可以自知道本决定之日起60日内向本级人民政府申请行政复议"
    "（依据《中华人民共和国行政复议法》）；也可以自知道本决定之日起6个月内向有管辖权的人民法院"
    "提起行政诉讼（依据《中华人民共和国行政诉讼法》）。"
)


async def documents(client: httpx.AsyncClient, headers: Headers, entry: str) -> list[Any]:
    response = await client.get(f"/api/v1/list-entries/{entry}", headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["documents"]
    return found


async def test_a_trigger_s_listing_tells_the_subject_the_facts_the_basis_and_the_remedies(
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
    clock.set(at("2025-09-26"))
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()["id"]
    finding = await client.post(
        "/api/v1/records",
        json=abuse_body(home, None, occurred_on="2025-09-20", document_no="莲民认〔2025〕7号"),
        params={"confirm": True},
        headers=inspector,
    )
    assert finding.status_code == 201, finding.text
    (entry,) = await entries_of(client, inspector, home)
    entry_id = entry["id"]

    # The prior notice: the facts in Chinese with the record's number, both legal bases,
    # and a deadline that says the last day counts.
    await step(client, inspector, entry_id, "notify", {"basis_document": "湖民信告〔2025〕3号"})
    (notice,) = await documents(client, inspector, entry_id)
    text = notice["document"]
    assert (notice["kind"], notice["title"], notice["document_no"]) == (
        "notice", "列入失信联合惩戒对象名单事先告知书", "湖民信告〔2025〕3号",
    )  # fmt: skip
    assert notice["objection_deadline"] == "2025-10-10"
    assert notice["against_the_subject"] is False
    assert ABUSE_FACTS in text
    assert f"{BOTH_BASES}，本机关拟将你单位列入养老服务领域失信联合惩戒对象名单。" in text
    assert "请于5个工作日内，即截至2025年10月10日（含当日），向本机关提交书面异议" in text
    for code in ("abuse_finding", "ABUSE_ACTUAL_HARM", finding.json()["id"], "Harming"):
        assert code not in text
    assert "\n长兴县民政局\n" in text  # signed by the home's county (330522), by name

    # An objection received on the deadline day is in time, as the notice says.
    clock.set(at("2025-10-10", 17))
    objected = await step(
        client, inspector, entry_id, "objections",
        {"filed_by_name": "李院长", "statement": "护理员系个人行为"},
    )  # fmt: skip
    assert objected["status"] == "objected"

    # Rejecting it, listing, and refusing a repair go against the subject: each says
    # how to challenge it, within the policy's 60 days and 6 months.
    clock.set(at("2025-10-13"))
    await step(
        client, reviewer, entry_id, "objection-decision",
        {"uphold": False, "resolution": "机构未尽管理义务", "basis_document": "湖民信复〔2025〕1号"},
    )  # fmt: skip
    await step(
        client, reviewer, entry_id, "decision",
        {"list": True, "comment": "事实清楚，证据确凿", "basis_document": "湖民信决〔2025〕1号"},
    )  # fmt: skip
    await step(client, reviewer, entry_id, "publish", {})
    repair = {"evidence": "整改报告", "obligations_fulfilled": True, "public_commitment": "承诺"}
    applied = await client.post(
        f"/api/v1/list-entries/{entry_id}/repair-applications", json=repair, headers=inspector
    )
    ruling = f"/api/v1/repair-applications/{applied.json()['id']}/decision"
    refused = await client.post(
        ruling, json={"approve": False, "comment": "未满两年"}, headers=reviewer
    )
    assert refused.status_code == 200, refused.text
    clock.set(at("2027-10-15"))
    again = await client.post(
        f"/api/v1/list-entries/{entry_id}/repair-applications", json=repair, headers=inspector
    )
    granted = await client.post(
        f"/api/v1/repair-applications/{again.json()['id']}/decision",
        json={"approve": True, "comment": "满足信用修复条件"},
        headers=reviewer,
    )
    assert granted.status_code == 200, granted.text

    written = await documents(client, inspector, entry_id)
    assert [(d["kind"], d["against_the_subject"]) for d in written] == [
        ("notice", False),
        ("objection_rejected", True),
        ("listing", True),
        ("repair_refused", True),
        ("repair_approved", False),
    ]
    by_kind = {d["kind"]: d for d in written}
    rejected = by_kind["objection_rejected"]["document"]
    assert (
        "你单位于2025年10月10日对拟列入养老服务领域失信联合惩戒对象名单提出的异议，经本机关复核，异议不成立。理由：机构未尽管理义务。"
        in rejected
    )
    assert REMEDIES in rejected
    listing = by_kind["listing"]
    assert (listing["title"], listing["document_no"]) == (
        "列入失信联合惩戒对象名单决定书",
        "湖民信决〔2025〕1号",
    )
    for sentence in (
        ABUSE_FACTS,
        "你单位于2025年10月10日提出的异议，经本机关复核不成立。",
        f"{BOTH_BASES}，本机关决定将你单位列入养老服务领域失信联合惩戒对象名单。理由：事实清楚，证据确凿。",
        "1. 限制享受财政补贴、奖补资金（依据：民发〔2019〕103号）",
        "列入期限为36个月，自公布之日起计算。",
        "本决定将于2025年10月22日（含当日）前向社会公布",
        REMEDIES,
    ):
        assert sentence in listing["document"], sentence
    assert "理由：未满两年。" in by_kind["repair_refused"]["document"]
    assert REMEDIES in by_kind["repair_refused"]["document"]
    approved = by_kind["repair_approved"]["document"]
    assert "本机关决定自2027年10月15日起将你单位移出养老服务领域失信联合惩戒对象名单" in approved
    assert "行政复议" not in approved

    # Every document goes out through the outbox, in order, and is marked delivered.
    sent = await worker_pass(session_factory, test_settings, webhook)
    assert sent.delivered == 5
    assert [(m["document_kind"], m["document"]) for m in webhook.received] == [
        (d["kind"], d["document"]) for d in written
    ]
    assert webhook.received[2]["document_no"] == "湖民信决〔2025〕1号"
    assert all(d["delivered_at"] for d in await documents(client, inspector, entry_id))

    # Printable as sent: plain text; a document of another entry, or none, is a 404.
    printed = await client.get(
        f"/api/v1/list-entries/{entry_id}/documents/{listing['id']}", headers=inspector
    )
    assert printed.status_code == 200
    assert printed.headers["content-type"].startswith("text/plain")
    assert printed.text == listing["document"]
    missing = await client.get(
        f"/api/v1/list-entries/{entry_id}/documents/{uuid.uuid4()}", headers=inspector
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    outsider = bearer(await make_token("inspector", "3301", name="外地"))
    walled = await client.get(
        f"/api/v1/list-entries/{entry_id}/documents/{listing['id']}", headers=outsider
    )
    assert walled.status_code == 403


REASON_BY_HAND = {"watch": "WATCH_OTHER", "black": "SERIOUS_VIOLATION"}  # the policy's own


async def test_a_manual_proposal_cites_the_list_s_basis_and_every_ending_is_written(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    reviewer: Headers,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
    webhook: Webhook,
) -> None:
    clock.set(at("2025-11-03"))
    homes = [
        (await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)).json()[
            "id"
        ]
        for n in (1, 2, 3, 4)
    ]

    async def proposed(home: str, list_type: str = "watch") -> str:
        body = {"list_type": list_type, "subject_kind": "institution", "subject_id": home,
                "reason_code": REASON_BY_HAND[list_type], "basis": "多次投诉经查属实"}  # fmt: skip
        created = await client.post("/api/v1/list-entries", json=body, headers=inspector)
        assert created.status_code == 201, created.text
        entry_id: str = created.json()["id"]
        await step(client, inspector, entry_id, "notify", {})
        return entry_id

    dismissed, upheld, expiring, revoked = [
        await proposed(home, list_type)
        for home, list_type in zip(homes, ("watch", "watch", "watch", "black"), strict=True)
    ]

    # A proposal by hand with no basis document cites the list's basis, never its code.
    (notice,) = await documents(client, inspector, dismissed)
    assert notice["document_no"] is None
    assert "经核查，多次投诉经查属实。" in notice["document"]
    assert (
        f"依据{BLACK_LIST_BASIS}，本机关拟将你单位列入养老服务领域重点关注名单。"
        in notice["document"]
    )
    assert "截至2025年11月10日（含当日）" in notice["document"]
    assert "WATCH_OTHER" not in notice["document"]

    clock.set(at("2025-11-11"))
    await step(
        client, reviewer, dismissed, "decision",
        {"list": False, "comment": "情节轻微", "basis_document": "湖民信决〔2025〕9号"},
    )  # fmt: skip
    await step(client, inspector, upheld, "objections", {"filed_by_name": "王院长", "statement": "投诉人已撤回"}, 409)  # fmt: skip
    clock.set(at("2025-11-10"))
    await step(client, inspector, upheld, "objections", {"filed_by_name": "王院长", "statement": "投诉人已撤回"})  # fmt: skip
    await step(client, reviewer, upheld, "objection-decision", {"uphold": True, "resolution": "投诉已撤回"})  # fmt: skip
    clock.set(at("2025-11-11"))
    for listed in (expiring, revoked):
        await step(client, reviewer, listed, "decision", {"list": True, "comment": "列入", "basis_document": "d"})  # fmt: skip
        await step(client, reviewer, listed, "publish", {})
    await step(client, reviewer, revoked, "revoke", {"reason": "认定事实的判决已被撤销", "basis_document": "湖民信撤〔2026〕1号"})  # fmt: skip

    (_, dismissal) = await documents(client, inspector, dismissed)
    assert (dismissal["kind"], dismissal["title"], dismissal["against_the_subject"]) == (
        "dismissal", "不予列入重点关注名单决定书", False,
    )  # fmt: skip
    assert (
        "经审查，本机关决定不将你单位列入养老服务领域重点关注名单。理由：情节轻微。"
        in dismissal["document"]
    )
    assert "行政复议" not in dismissal["document"]
    (_, upholding) = await documents(client, inspector, upheld)
    assert upholding["kind"] == "objection_upheld"
    assert (
        "异议成立。理由：投诉已撤回。\n\n本机关决定不将你单位列入养老服务领域重点关注名单。"
        in upholding["document"]
    )
    (_, _, removal) = await documents(client, inspector, revoked)
    assert (removal["kind"], removal["title"], removal["document_no"]) == (
        "removal", "移出失信联合惩戒对象名单决定书", "湖民信撤〔2026〕1号",
    )  # fmt: skip
    assert (
        "本机关决定撤销将你单位列入养老服务领域失信联合惩戒对象名单的决定，自2025年11月11日起将你单位移出该名单"
        in removal["document"]
    )

    # Expiry, by the worker: the subject is told the period ended and the entry is removed.
    clock.set(at("2026-11-11"))
    await worker_pass(session_factory, test_settings, webhook)
    (_, listing, expiry) = await documents(client, inspector, expiring)
    assert (listing["kind"], expiry["kind"]) == ("listing", "removal")
    assert "列入期限为12个月" in listing["document"]
    assert "期限已于2026年11月10日届满" in expiry["document"]
    assert "本机关决定自2026年11月11日起将你单位移出该名单" in expiry["document"]
    # The worker ends entries before it delivers, so the expiry goes out in the same pass.
    assert sorted(m["document_kind"] for m in webhook.received) == sorted(
        ["notice"] * 4 + ["dismissal", "objection_upheld", "listing", "listing", "removal"]
        + ["removal"]
    )  # fmt: skip
