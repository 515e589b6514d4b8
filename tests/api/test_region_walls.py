"""Region walls through a second subject, the override of a bar, and masked codes in answers.

An inspector of 湖州市 (3305) writes about homes in 3305. A record may also name a
practitioner: one registered in 3305, or one employed, on the day the fact occurred,
by a home in 3305. Anyone else is out of their reach, whatever the path: a new record,
an edited draft, a correction, a confirmation or a spreadsheet row.
"""

from __future__ import annotations

from typing import Any

import httpx
from conftest import MakeToken, bearer
from factories import (
    abuse_body,
    complaint_body,
    institution_body,
    make_id_number,
    make_uscc,
    practitioner_body,
)

Headers = dict[str, str]
HANGZHOU = "330106"  # 西湖区: outside the inspector's 3305
CHANGXING = "330522"  # 长兴县: inside it
ELSEWHERE_ID = make_id_number(61, region=HANGZHOU, birth="19700305")


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def home(client: httpx.AsyncClient, admin: Headers, n: int, region: str = CHANGXING) -> str:
    body = institution_body(n, uscc=make_uscc(n, region=region), region_code=region)
    return str(
        (await created(await client.post("/api/v1/institutions", json=body, headers=admin)))["id"]
    )


async def person_of_hangzhou(client: httpx.AsyncClient, admin: Headers) -> str:
    body = practitioner_body(61, id_number=ELSEWHERE_ID, region_code=HANGZHOU)
    return str(
        (await created(await client.post("/api/v1/practitioners", json=body, headers=admin)))["id"]
    )


async def employ(
    client: httpx.AsyncClient, headers: Headers, institution: str, person: str, start: str,
    end: str | None = None,
) -> None:  # fmt: skip
    job = {"institution_id": institution, "practitioner_id": person, "role": "caregiver",
           "start_date": start, "end_date": end}  # fmt: skip
    await created(await client.post("/api/v1/employments", json=job, headers=headers))


def refused_naming(response: httpx.Response, field: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == field
    assert "jurisdiction" in response.json()["errors"][0]["message"]


async def test_an_inspector_cannot_confirm_a_finding_against_a_person_of_another_region(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    """The reported case: 201, a black-list proposal and a lower grade for a stranger."""
    changxing_home = await home(client, admin, 1)
    stranger = await person_of_hangzhou(client, admin)
    assert (
        await client.get(f"/api/v1/practitioners/{stranger}", headers=inspector)
    ).status_code == 403

    response = await client.post(
        "/api/v1/records", json=abuse_body(changxing_home, stranger),
        params={"confirm": True}, headers=inspector,
    )  # fmt: skip
    refused_naming(response, "practitioner_id")
    entries = await client.get(
        "/api/v1/list-entries", params={"subject_id": stranger}, headers=admin
    )
    assert entries.json()["total"] == 0
    history = await client.get(f"/api/v1/practitioners/{stranger}/records", headers=admin)
    assert history.json()["chains"] == []


async def test_a_person_employed_in_the_region_on_the_day_may_be_named(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    changxing_home = await home(client, admin, 1)
    worker = await person_of_hangzhou(client, admin)
    # Hiring someone registered elsewhere is normal: the link follows the home's region.
    await employ(client, inspector, changxing_home, worker, "2026-01-01", "2026-06-30")

    during = abuse_body(changxing_home, worker, occurred_on="2026-05-15")
    record = await created(
        await client.post(
            "/api/v1/records", json=during, params={"confirm": True}, headers=inspector
        )
    )
    assert record["status"] == "confirmed"
    before = abuse_body(changxing_home, worker, occurred_on="2025-12-20")
    refused_naming(
        await client.post("/api/v1/records", json=before, headers=inspector), "practitioner_id"
    )
    # A home of another region does not open the wall: the employer must be in 3305.
    hangzhou_home = await home(client, admin, 2, region=HANGZHOU)
    stranger = (
        await created(
            await client.post(
                "/api/v1/practitioners",
                json=practitioner_body(62, id_number=make_id_number(62, region=HANGZHOU),
                                       region_code=HANGZHOU),
                headers=admin,
            )
        )
    )["id"]  # fmt: skip
    await employ(client, admin, hangzhou_home, stranger, "2026-01-01")
    elsewhere = complaint_body(changxing_home, practitioner_id=stranger)
    refused_naming(
        await client.post("/api/v1/records", json=elsewhere, headers=inspector), "practitioner_id"
    )


async def test_drafts_corrections_and_confirmations_keep_the_wall(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    changxing_home = await home(client, admin, 1)
    local = await created(
        await client.post("/api/v1/practitioners", json=practitioner_body(5), headers=admin)
    )
    stranger = await person_of_hangzhou(client, admin)

    # An edited draft may not swap in a stranger.
    draft = await created(
        await client.post(
            "/api/v1/records", json=abuse_body(changxing_home, local["id"]), headers=inspector
        )
    )
    edited = await client.put(
        f"/api/v1/records/{draft['id']}", json=abuse_body(changxing_home, stranger),
        headers={**inspector, "If-Match": f'"{draft["version"]}"'},
    )  # fmt: skip
    refused_naming(edited, "practitioner_id")

    # Nor may a correction of a confirmed record.
    confirmed = await client.post(f"/api/v1/records/{draft['id']}/confirm", headers=inspector)
    assert confirmed.status_code == 200, confirmed.text
    correction = {"reason": "当事人认定有误", "record": abuse_body(changxing_home, stranger)}
    corrected = await client.post(
        f"/api/v1/records/{draft['id']}/corrections", json=correction, headers=inspector
    )
    refused_naming(corrected, "record.practitioner_id")

    # A draft an admin wrote about a stranger is not the inspector's to confirm.
    by_admin = await created(
        await client.post(
            "/api/v1/records", json=abuse_body(changxing_home, stranger), headers=admin
        )
    )
    refused_naming(
        await client.post(f"/api/v1/records/{by_admin['id']}/confirm", headers=inspector),
        "practitioner_id",
    )
    still = await client.get(f"/api/v1/records/{by_admin['id']}", headers=admin)
    assert still.json()["status"] == "draft"


async def test_a_spreadsheet_row_naming_a_stranger_is_refused_by_line(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    changxing_home = await home(client, admin, 1)
    await person_of_hangzhou(client, admin)
    local = await created(
        await client.post("/api/v1/practitioners", json=practitioner_body(5), headers=admin)
    )
    assert local["region_code"] == CHANGXING
    rows = [
        "institution_uscc,practitioner_id_number,occurred_on,category,harm,description",
        f"{make_uscc(1)},{make_id_number(5)},2026-05-01,physical,actual,推搡老人",
        f"{make_uscc(1)},{ELSEWHERE_ID},2026-05-02,neglect,potential,未按时翻身",
    ]
    response = await client.post(
        "/api/v1/records/imports", content="\n".join(rows).encode(),
        params={"kind": "abuse_finding", "confirm": True},
        headers={**inspector, "content-type": "text/csv"},
    )  # fmt: skip
    report = response.json()
    assert report["records_stored"] == 1, report
    (problem,) = report["errors"]
    assert (problem["line"], problem["field"]) == (3, "practitioner_id_number")
    assert "jurisdiction" in problem["message"]
    stored = await client.get(
        "/api/v1/records", params={"institution_id": changxing_home}, headers=admin
    )
    assert [r["practitioner_id"] for r in stored.json()["items"]] == [local["id"]]


async def test_other_writes_with_a_second_subject_keep_to_the_region(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    """List proposals, star ratings and employment links: the wall holds for each."""
    hangzhou_home = await home(client, admin, 2, region=HANGZHOU)
    changxing_home = await home(client, admin, 1)
    stranger = await person_of_hangzhou(client, admin)
    proposal = {"list_type": "black", "subject_kind": "practitioner", "subject_id": stranger,
                "reason_code": "SERIOUS_VIOLATION", "basis": "外地人员"}  # fmt: skip
    assert (
        await client.post("/api/v1/list-entries", json=proposal, headers=inspector)
    ).status_code == 403
    rating = {"level": 1, "assessor": "x", "assessed_on": "2026-01-05",
              "valid_from": "2026-01-05", "valid_to": "2028-01-04"}  # fmt: skip
    assert (
        await client.post(
            f"/api/v1/institutions/{hangzhou_home}/star-ratings", json=rating, headers=inspector
        )
    ).status_code == 403
    job = {"institution_id": hangzhou_home, "practitioner_id": stranger, "role": "caregiver",
           "start_date": "2026-01-01"}  # fmt: skip
    assert (
        await client.post("/api/v1/employments", json=job, headers=inspector)
    ).status_code == 403
    # A link follows the institution's region: a 3305 home may hire a Hangzhou worker.
    await employ(client, inspector, changxing_home, stranger, "2026-01-01")


# The override of a bar on employment


async def black_list(
    client: httpx.AsyncClient, inspector: Headers, reviewer: Headers, person: str
) -> None:
    proposal = {"list_type": "black", "subject_kind": "practitioner", "subject_id": person,
                "reason_code": "SERIOUS_VIOLATION", "basis": "法院判决认定虐待老人"}  # fmt: skip
    entry = await created(
        await client.post("/api/v1/list-entries", json=proposal, headers=inspector)
    )
    steps = [
        (inspector, "notify", {}),
        (inspector, "objections", {"filed_by_name": "张晓明", "statement": "不服"}),
        (reviewer, "objection-decision", {"uphold": False, "resolution": "不成立"}),
        (reviewer, "decision", {"list": True, "comment": "列入", "basis_document": "d"}),
        (reviewer, "publish", {}),
    ]
    for headers, action, body in steps:
        answer = await client.post(
            f"/api/v1/list-entries/{entry['id']}/{action}", json=body, headers=headers
        )
        assert answer.status_code == 200, answer.text


async def test_an_override_reason_is_refused_where_there_is_no_bar(
    client: httpx.AsyncClient, admin: Headers, reviewer: Headers
) -> None:
    changxing_home = await home(client, admin, 1)
    person = await created(
        await client.post("/api/v1/practitioners", json=practitioner_body(5), headers=admin)
    )
    job = {"institution_id": changxing_home, "practitioner_id": person["id"], "role": "caregiver",
           "start_date": "2026-01-01", "override_reason": "随便写的理由"}  # fmt: skip
    for headers in (reviewer, admin):
        response = await client.post("/api/v1/employments", json=job, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "override_reason"
    listed = await client.get(f"/api/v1/practitioners/{person['id']}/employments", headers=admin)
    assert listed.json() == []


async def test_only_a_reviewer_or_admin_of_the_homes_region_overrides_a_bar(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, reviewer: Headers,
    make_token: MakeToken,
) -> None:  # fmt: skip
    homes = [await home(client, admin, n) for n in (1, 2, 3)]
    person = (
        await created(
            await client.post("/api/v1/practitioners", json=practitioner_body(4), headers=admin)
        )
    )["id"]
    await black_list(client, inspector, reviewer, person)
    job = {"practitioner_id": person, "role": "caregiver", "start_date": "2026-01-01",
           "override_reason": "仅从事后勤，不接触老人"}  # fmt: skip

    by_inspector = await client.post(
        "/api/v1/employments", json={**job, "institution_id": homes[0]}, headers=inspector
    )
    assert by_inspector.status_code == 422
    assert by_inspector.json()["errors"][0]["field"] == "override_reason"
    hangzhou_reviewer = bearer(await make_token("reviewer", "3301", name="杭州复核"))
    elsewhere = await client.post(
        "/api/v1/employments", json={**job, "institution_id": homes[0]}, headers=hangzhou_reviewer
    )
    assert elsewhere.status_code == 403
    await created(
        await client.post(
            "/api/v1/employments", json={**job, "institution_id": homes[1]}, headers=reviewer
        )
    )
    await created(
        await client.post(
            "/api/v1/employments", json={**job, "institution_id": homes[2]}, headers=admin
        )
    )


# Codes in answers


async def test_eligibility_by_id_number_answers_it_masked(
    client: httpx.AsyncClient, admin: Headers, make_token: MakeToken
) -> None:
    number = make_id_number(7, region=CHANGXING, birth="19680412")
    await created(
        await client.post(
            "/api/v1/practitioners", json=practitioner_body(7, id_number=number), headers=admin
        )
    )
    subsidy = bearer(await make_token("subsidy_client"))
    response = await client.get(
        f"/api/v1/eligibility/caregiver_post_allowance/{number}", headers=subsidy
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "ok"
    assert answer["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert answer["uscc"] is None
    assert number not in response.text
    unknown = make_id_number(8, region=CHANGXING, birth="19700101")
    missing = await client.get(
        f"/api/v1/eligibility/caregiver_post_allowance/{unknown}", headers=subsidy
    )
    assert missing.json()["status"] == "not_found"
    assert unknown not in missing.text
    # An institution is still asked by its USCC.
    await home(client, admin, 1)
    by_uscc = await client.get(
        f"/api/v1/eligibility/operating_subsidy/{make_uscc(1)}", headers=subsidy
    )
    assert by_uscc.json()["uscc"] == make_uscc(1)
