"""Records as inspectors and reviewers use them, over real HTTP: every kind, every step."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from conftest import MakeToken, bearer
from factories import (
    abuse_body,
    commendation_body,
    complaint_body,
    inspection_body,
    institution_body,
    make_uscc,
    penalty_body,
    penalty_details,
    practitioner_body,
)

Headers = dict[str, str]


async def register_institution(
    client: httpx.AsyncClient, headers: Headers, n: int = 1, region: str = "330522"
) -> str:
    body = institution_body(n, uscc=make_uscc(n, region=region), region_code=region)
    response = await client.post("/api/v1/institutions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def register_practitioner(client: httpx.AsyncClient, headers: Headers, n: int = 1) -> str:
    response = await client.post(
        "/api/v1/practitioners", json=practitioner_body(n), headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post_record(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any], confirm: bool = False
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/records", json=body, params={"confirm": confirm}, headers=headers
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


async def test_an_inspection_is_recorded_as_a_draft_with_its_deficiencies(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    response = await client.post(
        "/api/v1/records", json=inspection_body(institution), headers=inspector
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert response.headers["location"] == f"/api/v1/records/{record['id']}"
    assert record["kind"] == "inspection"
    assert record["status"] == "draft"
    assert record["region_code"] == "330522"
    assert record["chain_id"] == record["id"]
    assert record["details"]["inspectors"] == ["王建国", "李红"]
    serious, minor = record["deficiencies"]
    assert (serious["position"], serious["severity"], serious["scope"]) == (1, "serious", "pattern")
    assert serious["rectified_on"] is None
    assert serious["rectified_in_time"] is None
    assert minor["rectified_on"] == "2026-03-20"
    assert minor["rectified_in_time"] is True

    read = await client.get(f"/api/v1/records/{record['id']}", headers=inspector)
    assert read.status_code == 200
    assert read.json() == record


@pytest.mark.parametrize(
    ("make_body", "expect"),
    [
        (
            lambda i, p: complaint_body(i),
            {"outcome": "substantiated", "channel": "hotline_12345"},
        ),
        (lambda i, p: abuse_body(i, p), {"category": "physical", "harm": "actual"}),
        (
            lambda i, p: penalty_body(i),
            {"fine_amount": "5000.00", "publication_end_date": "2029-06-01"},
        ),
        (lambda i, p: commendation_body(i), {"level": "provincial"}),
        (lambda i, p: penalty_body(practitioner_id=p), {"penalty_kinds": ["fine"]}),
        (lambda i, p: abuse_body(None, p), {"harm": "actual"}),
    ],
    ids=["complaint", "abuse-both", "penalty", "commendation", "penalty-person", "abuse-person"],
)
async def test_every_kind_is_recorded_and_confirmed(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    make_body: Any,
    expect: dict[str, Any],
) -> None:
    institution = await register_institution(client, admin)
    practitioner = await register_practitioner(client, admin)
    body = make_body(institution, practitioner)
    record = await post_record(client, inspector, body, confirm=True)
    assert record["kind"] == body["kind"]
    assert record["status"] == "confirmed"
    assert record["confirmed_at"] is not None
    assert record["institution_id"] == body.get("institution_id")
    assert record["practitioner_id"] == body.get("practitioner_id")
    for name, value in expect.items():
        assert record["details"][name] == value


@pytest.mark.parametrize(
    ("body_of", "field"),
    [
        (lambda i, p: inspection_body(i, practitioner_id=p), "practitioner_id"),
        (lambda i, p: penalty_body(i, p), "practitioner_id"),
        (lambda i, p: complaint_body(None, practitioner_id=p), "institution_id"),
        (lambda i, p: commendation_body(i, practitioner_id=p), "practitioner_id"),
    ],
    ids=["inspection-of-a-person", "penalty-on-both", "complaint-without-home", "award-to-both"],
)
async def test_a_record_names_only_the_subjects_its_kind_allows(
    client: httpx.AsyncClient, admin: Headers, body_of: Any, field: str
) -> None:
    institution = await register_institution(client, admin)
    practitioner = await register_practitioner(client, admin)
    response = await client.post(
        "/api/v1/records", json=body_of(institution, practitioner), headers=admin
    )
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_rules_of_a_penalty_name_each_broken_field(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    institution = await register_institution(client, admin)
    details = penalty_details(
        fine_amount="12.345", authority_uscc="91330522MA2B3C4D5X", valid_until="2026-01-01"
    )
    body = penalty_body(institution, details=details, document_no=None, occurred_on="2026-06-01")
    response = await client.post("/api/v1/records", json=body, headers=admin)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {
        "document_no",
        "details.fine_amount",
        "details.authority_uscc",
        "details.valid_until",
    }


async def test_a_future_date_and_an_unknown_subject_are_refused_by_name(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    institution = await register_institution(client, admin)
    future = await client.post(
        "/api/v1/records",
        json=complaint_body(institution, occurred_on="2099-01-01"),
        headers=admin,
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "occurred_on"
    unknown = await client.post(
        "/api/v1/records",
        json=complaint_body("00000000-0000-0000-0000-000000000000"),
        headers=admin,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "institution_id"


async def test_a_draft_is_edited_with_its_etag_and_then_confirmed(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    draft = await post_record(client, inspector, complaint_body(institution))
    changed = complaint_body(institution)
    changed["details"]["outcome"] = "unfounded"
    stale = await client.put(
        f"/api/v1/records/{draft['id']}", json=changed, headers={**inspector, "If-Match": '"9"'}
    )
    assert stale.status_code == 412
    edited = await client.put(
        f"/api/v1/records/{draft['id']}", json=changed, headers={**inspector, "If-Match": '"1"'}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["details"]["outcome"] == "unfounded"
    assert edited.headers["etag"] == '"2"'

    confirmed = await client.post(f"/api/v1/records/{draft['id']}/confirm", headers=inspector)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    again = await client.post(f"/api/v1/records/{draft['id']}/confirm", headers=inspector)
    assert again.status_code == 409


async def test_a_confirmed_record_never_changes(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    record = await post_record(client, inspector, complaint_body(institution), confirm=True)
    etag = f'"{record["version"]}"'
    put = await client.put(
        f"/api/v1/records/{record['id']}",
        json=complaint_body(institution, occurred_on="2026-01-01"),
        headers={**inspector, "If-Match": etag},
    )
    assert put.status_code == 409
    assert "corrections" in put.json()["detail"]
    deleted = await client.delete(
        f"/api/v1/records/{record['id']}", headers={**inspector, "If-Match": etag}
    )
    assert deleted.status_code == 409
    unchanged = await client.get(f"/api/v1/records/{record['id']}", headers=inspector)
    assert unchanged.json() == record


async def test_a_draft_can_be_discarded(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    draft = await post_record(client, inspector, inspection_body(institution))
    gone = await client.delete(
        f"/api/v1/records/{draft['id']}", headers={**inspector, "If-Match": '"1"'}
    )
    assert gone.status_code == 204
    assert (
        await client.get(f"/api/v1/records/{draft['id']}", headers=inspector)
    ).status_code == 404


async def test_a_correction_of_a_correction_and_a_revocation_form_one_chain(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    original = await post_record(client, inspector, complaint_body(institution), confirm=True)

    first_fix = complaint_body(institution)
    first_fix["details"]["outcome"] = "unsubstantiated"
    corrected = await client.post(
        f"/api/v1/records/{original['id']}/corrections",
        json={"reason": "核查结论录入错误", "record": first_fix},
        headers=inspector,
    )
    assert corrected.status_code == 201, corrected.text
    correction = corrected.json()
    assert correction["status"] == "draft"
    assert correction["supersedes_id"] == original["id"]
    assert correction["chain_id"] == original["id"]
    # Until the correction is confirmed the original still stands.
    still = await client.get(f"/api/v1/records/{original['id']}", headers=inspector)
    assert still.json()["status"] == "confirmed"
    confirmed = await client.post(f"/api/v1/records/{correction['id']}/confirm", headers=inspector)
    assert confirmed.json()["status"] == "confirmed"
    replaced = (await client.get(f"/api/v1/records/{original['id']}", headers=inspector)).json()
    assert replaced["status"] == "superseded"
    assert replaced["superseded_by_id"] == correction["id"]

    # The superseded version can be neither corrected nor revoked again.
    stale = await client.post(
        f"/api/v1/records/{original['id']}/corrections",
        json={"reason": "再改", "record": complaint_body(institution)},
        headers=inspector,
    )
    assert stale.status_code == 409
    assert correction["id"] in stale.json()["detail"]

    second_fix = complaint_body(institution, occurred_on="2026-04-03")
    second_fix["details"]["outcome"] = "unfounded"
    second = await client.post(
        f"/api/v1/records/{correction['id']}/corrections",
        json={"reason": "受理日期有误", "record": second_fix},
        params={"confirm": True},
        headers=inspector,
    )
    assert second.status_code == 201, second.text
    latest = second.json()
    assert latest["status"] == "confirmed"
    assert latest["chain_id"] == original["id"]

    revoked = await client.post(
        f"/api/v1/records/{latest['id']}/revoke",
        json={"reason": "投诉人撤回，系重复登记"},
        headers=inspector,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revocation_reason"] == "投诉人撤回，系重复登记"
    twice = await client.post(
        f"/api/v1/records/{latest['id']}/revoke", json={"reason": "again"}, headers=inspector
    )
    assert twice.status_code == 409

    history = await client.get(f"/api/v1/institutions/{institution}/records", headers=inspector)
    assert history.status_code == 200
    (chain,) = history.json()["chains"]
    assert chain["chain_id"] == original["id"]
    assert chain["current_id"] == latest["id"]
    assert chain["current_status"] == "revoked"
    assert [(r["id"], r["status"]) for r in chain["records"]] == [
        (original["id"], "superseded"),
        (correction["id"], "superseded"),
        (latest["id"], "revoked"),
    ]
    assert [r["correction_reason"] for r in chain["records"]] == [
        None,
        "核查结论录入错误",
        "受理日期有误",
    ]
    assert [r["details"]["outcome"] for r in chain["records"]] == [
        "substantiated",
        "unsubstantiated",
        "unfounded",
    ]


async def test_a_correction_keeps_its_kind(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    record = await post_record(client, inspector, complaint_body(institution), confirm=True)
    response = await client.post(
        f"/api/v1/records/{record['id']}/corrections",
        json={"reason": "x", "record": commendation_body(institution)},
        headers=inspector,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "record.kind"


async def test_revoking_a_penalty_needs_a_reviewer(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, reviewer: Headers
) -> None:
    institution = await register_institution(client, admin)
    penalty = await post_record(client, inspector, penalty_body(institution), confirm=True)
    reason = {"reason": "行政复议撤销原处罚决定", "document_no": "长政复决〔2026〕5号"}
    by_inspector = await client.post(
        f"/api/v1/records/{penalty['id']}/revoke", json=reason, headers=inspector
    )
    assert by_inspector.status_code == 403
    by_admin = await client.post(
        f"/api/v1/records/{penalty['id']}/revoke", json=reason, headers=admin
    )
    assert by_admin.status_code == 403
    by_reviewer = await client.post(
        f"/api/v1/records/{penalty['id']}/revoke", json=reason, headers=reviewer
    )
    assert by_reviewer.status_code == 200, by_reviewer.text
    assert by_reviewer.json()["revocation_document_no"] == "长政复决〔2026〕5号"


async def test_inspectors_record_and_confirm_only_inside_their_region(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, make_token: MakeToken
) -> None:
    outside = await register_institution(client, admin, n=2, region="330102")
    refused = await client.post("/api/v1/records", json=complaint_body(outside), headers=inspector)
    assert refused.status_code == 403
    hangzhou = bearer(await make_token("inspector", "3301"))
    draft = await post_record(client, hangzhou, complaint_body(outside))
    confirm = await client.post(f"/api/v1/records/{draft['id']}/confirm", headers=inspector)
    assert confirm.status_code == 403
    assert (
        await client.get(f"/api/v1/records/{draft['id']}", headers=inspector)
    ).status_code == 403
    reviewer_elsewhere = bearer(await make_token("reviewer", "3301"))
    listed = await client.get(
        "/api/v1/records", params={"region": "3305"}, headers=reviewer_elsewhere
    )
    assert listed.status_code == 403


async def test_a_deficiency_is_rectified_once_after_confirmation(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    inspection = await post_record(client, inspector, inspection_body(institution), confirm=True)
    open_item = inspection["deficiencies"][0]
    url = f"/api/v1/records/{inspection['id']}/deficiencies/{open_item['id']}/rectification"
    early = await client.post(url, json={"rectified_on": "2026-03-01"}, headers=inspector)
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "rectified_on"
    done = await client.post(
        url, json={"rectified_on": "2026-03-30", "note": "已清理通道"}, headers=inspector
    )
    assert done.status_code == 200, done.text
    item = done.json()["deficiencies"][0]
    assert item["rectified_on"] == "2026-03-30"
    assert item["rectified_in_time"] is False  # the deadline was 2026-03-24
    assert item["rectification_note"] == "已清理通道"
    again = await client.post(url, json={"rectified_on": "2026-03-31"}, headers=inspector)
    assert again.status_code == 409
    assert "2026-03-30" in again.json()["detail"]


async def test_records_are_listed_by_kind_status_and_subject(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    other = await register_institution(client, admin, n=2)
    await post_record(client, inspector, complaint_body(institution), confirm=True)
    await post_record(client, inspector, complaint_body(other))
    await post_record(client, inspector, commendation_body(institution), confirm=True)
    drafts = await client.get("/api/v1/records", params={"status": "draft"}, headers=inspector)
    assert drafts.json()["total"] == 1
    complaints = await client.get(
        "/api/v1/records",
        params={"kind": "complaint", "institution_id": institution},
        headers=inspector,
    )
    assert [r["kind"] for r in complaints.json()["items"]] == ["complaint"]
    assert complaints.json()["items"][0]["institution_id"] == institution


async def test_a_practitioner_history_shows_findings_against_them(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    practitioner = await register_practitioner(client, admin)
    finding = await post_record(client, inspector, abuse_body(institution, practitioner), True)
    await post_record(client, inspector, complaint_body(institution), confirm=True)
    history = await client.get(f"/api/v1/practitioners/{practitioner}/records", headers=inspector)
    assert history.status_code == 200
    chains = history.json()["chains"]
    assert [chain["current_id"] for chain in chains] == [finding["id"]]
    home = await client.get(f"/api/v1/institutions/{institution}/records", headers=inspector)
    assert len(home.json()["chains"]) == 2


async def test_of_two_corrections_confirmed_at_once_exactly_one_wins(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await register_institution(client, admin)
    original = await post_record(client, inspector, complaint_body(institution), confirm=True)
    drafts = []
    for outcome in ("unsubstantiated", "unfounded"):
        fix = complaint_body(institution)
        fix["details"]["outcome"] = outcome
        response = await client.post(
            f"/api/v1/records/{original['id']}/corrections",
            json={"reason": outcome, "record": fix},
            headers=inspector,
        )
        drafts.append(response.json()["id"])
    results = await asyncio.gather(
        *[client.post(f"/api/v1/records/{draft}/confirm", headers=inspector) for draft in drafts]
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    winner = next(r.json()["id"] for r in results if r.status_code == 200)
    replaced = (await client.get(f"/api/v1/records/{original['id']}", headers=inspector)).json()
    assert replaced["superseded_by_id"] == winner
