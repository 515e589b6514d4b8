"""The credit engine as staff and subsidy systems use it, over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import MakeToken, bearer
from factories import (
    SHIPPED,
    abuse_body,
    complaint_body,
    inspection_body,
    institution_body,
    make_id_number,
    make_uscc,
    penalty_body,
    penalty_details,
    practitioner_body,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from service.clock import CHINA_TZ
from service.listing.models import ListEntry
from service.policy.load import DEFAULT_POLICY_FILE

Headers = dict[str, str]
TODAY = datetime.now(CHINA_TZ).date()


@pytest.fixture
async def subsidy(make_token: MakeToken) -> Headers:
    return bearer(await make_token("subsidy_client", name="补贴系统"))


async def home(client: httpx.AsyncClient, admin: Headers, n: int = 1, **overrides: Any) -> str:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(n, **overrides), headers=admin
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def confirmed(client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]) -> str:
    response = await client.post(
        "/api/v1/records", json=body, params={"confirm": True}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def credit(
    client: httpx.AsyncClient, headers: Headers, institution: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/institutions/{institution}/credit", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stars(client: httpx.AsyncClient, headers: Headers, institution: str, level: int) -> None:
    rating = {
        "level": level,
        "assessor": "湖州市养老机构等级评定委员会",
        "assessed_on": (TODAY - timedelta(days=30)).isoformat(),
        "valid_from": (TODAY - timedelta(days=30)).isoformat(),
        "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        "document_no": "湖民评〔2026〕1号",
    }
    response = await client.post(
        f"/api/v1/institutions/{institution}/star-ratings", json=rating, headers=headers
    )
    assert response.status_code == 201, response.text


async def put_on_list(engine: AsyncEngine, list_type: str, kind: str, subject_id: str) -> None:
    """A published entry, as the lists stage's due process will leave one."""
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(ListEntry).values(
                id=uuid.uuid4(), list_type=list_type, subject_kind=kind,
                subject_id=uuid.UUID(subject_id), region_code="330522", status="published",
                reason_code="TEST", basis="测试", effective_from=TODAY - timedelta(days=1),
                effective_to=TODAY + timedelta(days=365),
                published_at=datetime.now(UTC) - timedelta(hours=1),
                created_at=datetime.now(UTC), version=1,
            )
        )  # fmt: skip


async def ask(
    client: httpx.AsyncClient,
    headers: Headers,
    program: str,
    *subjects: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/eligibility",
        json={"program": program, "subjects": list(subjects), **extra},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_home_without_records_is_grade_a_with_nothing_to_explain(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    institution = await home(client, admin)
    standing = await credit(client, admin, institution)
    assert (standing["score"], standing["grade"]) == ("100.00", "A")
    assert standing["contributions"] == []
    assert standing["lift"] is None
    assert standing["policy_version"] == SHIPPED
    assert standing["as_of"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("severities", "score", "grade"),
    [
        (["minor", "minor"], "90.00", "A"),
        (["general", "general"], "70.00", "B"),
        (["serious"], "70.00", "B"),
        (["serious", "general", "minor"], "50.00", "C"),
        (["serious", "serious"], "40.00", "C"),
        (["serious", "serious", "minor"], "35.00", "D"),
    ],
)
async def test_grades_follow_the_default_thresholds(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    severities: list[str],
    score: str,
    grade: str,
) -> None:
    institution = await home(client, admin)
    decided = (TODAY - timedelta(days=20)).isoformat()
    for n, severity in enumerate(severities):
        body = penalty_body(
            institution,
            occurred_on=decided,
            document_no=f"长民罚〔2026〕{n}号",
            details=penalty_details(severity=severity),
        )
        await confirmed(client, inspector, body)
    standing = await credit(client, admin, institution)
    assert (standing["score"], standing["grade"]) == (score, grade)
    assert len(standing["contributions"]) == len(severities)


async def test_every_point_is_explained_with_when_it_stops_counting(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await home(client, admin)
    held = TODAY - timedelta(days=10)
    body = inspection_body(institution, occurred_on=held.isoformat())
    body["deficiencies"] = [
        {"item": "消防通道堵塞", "severity": "serious", "scope": "pattern",
         "rectification_deadline": (TODAY + timedelta(days=5)).isoformat()},
        {"item": "记录缺签", "severity": "general", "scope": "isolated"},
    ]  # fmt: skip
    record = await confirmed(client, inspector, body)
    standing = await credit(client, admin, institution)
    assert (standing["score"], standing["grade"]) == ("61.00", "C")
    serious, general = sorted(
        standing["contributions"], key=lambda part: Decimal(part["points"]), reverse=True
    )
    assert serious["record_id"] == record
    assert (serious["points"], serious["fact_class"], serious["rectification"]) == (
        "35.00",
        "serious",
        "open",
    )
    assert serious["stops_counting_on"] == date(held.year + 3, held.month, held.day).isoformat()
    assert serious["points_if_rectified"] == "17.50"
    assert general["points"] == "4.00"
    lift = standing["lift"]
    assert (lift["grade"], lift["points_short"]) == ("B", "9.00")
    assert [part["deficiency_id"] for part in lift["by_rectification"]] == [
        serious["deficiency_id"]
    ]
    assert lift["lifts_on"] == serious["stops_counting_on"]


async def test_abuse_with_actual_harm_sets_grade_d_and_excludes_from_subsidies(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, subsidy: Headers
) -> None:
    institution = await home(client, admin)
    person = await client.post("/api/v1/practitioners", json=practitioner_body(2), headers=admin)
    await confirmed(client, inspector, abuse_body(institution, person.json()["id"]))
    standing = await credit(client, admin, institution)
    assert (standing["score"], standing["grade_by_score"], standing["grade"]) == ("60.00", "C", "D")
    assert standing["lift"]["held_by_caps"] != []
    answer = (await ask(client, subsidy, "construction_subsidy", {"uscc": make_uscc(1)}))[
        "answers"
    ][0]
    assert (answer["eligible"], answer["grade"]) == (False, "D")
    assert answer["reasons"] == ["GRADE_INELIGIBLE"]
    worker = await ask(
        client, subsidy, "caregiver_post_allowance", {"id_number": make_id_number(2)}
    )
    (answer,) = worker["answers"]
    assert (answer["status"], answer["grade"], answer["eligible"]) == ("ok", "D", False)
    assert answer["id_number_masked"].startswith("110105")
    assert make_id_number(2) not in str(worker)


async def test_grade_c_caps_stars_at_three(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, subsidy: Headers
) -> None:
    institution = await home(client, admin)
    await stars(client, inspector, institution, 5)
    assert (await credit(client, admin, institution))["stars"]["effective"] == 5
    decided = (TODAY - timedelta(days=3)).isoformat()
    for n in range(2):
        body = penalty_body(
            institution, occurred_on=decided, document_no=f"罚{n}",
            details=penalty_details(severity="serious"),
        )  # fmt: skip
        await confirmed(client, inspector, body)
    standing = await credit(client, admin, institution)
    assert standing["grade"] == "C"
    assert standing["stars"] == {"assessed": 5, "effective": 3, "suspended": False, "capped": True}
    answer = (await ask(client, subsidy, "operating_subsidy", {"uscc": make_uscc(1)}))["answers"][0]
    assert (answer["assessed_stars"], answer["effective_stars"], answer["eligible"]) == (5, 3, True)


async def test_a_published_black_list_entry_suspends_stars_and_excludes(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    subsidy: Headers,
    engine: AsyncEngine,
) -> None:
    institution = await home(client, admin)
    await stars(client, inspector, institution, 4)
    await put_on_list(engine, "black", "institution", institution)
    standing = await credit(client, admin, institution)
    assert standing["grade"] == "A"
    assert standing["stars"] == {
        "assessed": 4,
        "effective": None,
        "suspended": True,
        "capped": False,
    }
    assert [entry["list_type"] for entry in standing["lists"]] == ["black"]
    body = await ask(client, subsidy, "operating_subsidy", {"uscc": make_uscc(1)})
    answer = body["answers"][0]
    assert answer["eligible"] is False
    assert answer["lists"] == ["black"]
    assert answer["reasons"] == ["LISTED_INELIGIBLE", "STARS_SUSPENDED"]
    assert body["reasons"]["LISTED_INELIGIBLE"]["effect"] == "ineligible"


async def test_a_watch_list_entry_leaves_a_home_eligible_with_a_review_flag(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers, engine: AsyncEngine
) -> None:
    institution = await home(client, admin)
    await put_on_list(engine, "watch", "institution", institution)
    answer = (await ask(client, subsidy, "construction_subsidy", {"uscc": make_uscc(1)}))[
        "answers"
    ][0]
    assert (answer["eligible"], answer["review"]) == (True, True)
    assert answer["reasons"] == ["ELIGIBLE", "LISTED_REVIEW"]


async def test_a_bulk_request_answers_each_subject_on_its_own(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, subsidy: Headers
) -> None:
    good = await home(client, admin, 1)
    await home(client, admin, 2, status="closed")
    await stars(client, inspector, good, 2)
    body = await ask(
        client, subsidy, "operating_subsidy",
        {"uscc": make_uscc(1)}, {"uscc": make_uscc(2)}, {"uscc": make_uscc(3)},
        {"uscc": "91330522MA2B3C4D5X"}, {"id_number": make_id_number(9)},
        {"uscc": make_uscc(1), "id_number": make_id_number(9)}, {},
    )  # fmt: skip
    statuses = [(a["index"], a["status"], a["eligible"]) for a in body["answers"]]
    assert statuses == [
        (0, "ok", True),
        (1, "ok", False),
        (2, "not_found", None),
        (3, "invalid", None),
        (4, "not_found", None),
        (5, "invalid", None),
        (6, "invalid", None),
    ]
    assert body["answers"][1]["reasons"] == ["NOT_OPERATING", "STARS_BELOW_MINIMUM"]
    assert "check character" in body["answers"][3]["message"]
    assert {a["policy_version"] for a in body["answers"]} == {SHIPPED}
    assert body["answers"][0]["reasons"] == ["ELIGIBLE"]
    assert body["reasons"]["ELIGIBLE"]["zh"] == "符合全部条件"
    one = await client.get(f"/api/v1/eligibility/operating_subsidy/{make_uscc(1)}", headers=subsidy)
    assert one.status_code == 200
    assert one.json()["eligible"] is True


async def test_a_practitioner_programme_does_not_cover_a_home(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers
) -> None:
    await home(client, admin)
    answer = (await ask(client, subsidy, "caregiver_entry_award", {"uscc": make_uscc(1)}))[
        "answers"
    ][0]
    assert (answer["eligible"], answer["reasons"]) == (False, ["SUBJECT_KIND_NOT_COVERED"])


async def test_only_subsidy_clients_and_admins_may_ask(
    client: httpx.AsyncClient, inspector: Headers, reviewer: Headers
) -> None:
    request = {"program": "construction_subsidy", "subjects": [{"uscc": make_uscc(1)}]}
    # Signed in without the role: 403; not signed in at all: 401.
    for headers, status in ((inspector, 403), (reviewer, 403), ({}, 401)):
        response = await client.post("/api/v1/eligibility", json=request, headers=headers)
        assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"program": "construction_subsidy", "subjects": []}, "subjects"),
        ({"program": "construction_subsidy", "subjects": [{"uscc": "x"}] * 10_001}, "subjects"),
        ({"program": "construction_subsidy", "subjects": [{"usc": "x"}]}, "subjects[0].usc"),
        ({"program": "construction_subsidy", "subjects": [{}], "as_of": "2026-02-30"}, "as_of"),
    ],
)
async def test_a_malformed_request_names_the_field(
    client: httpx.AsyncClient, subsidy: Headers, request_body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/eligibility", json=request_body, headers=subsidy)
    assert response.status_code == 400, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_an_unknown_programme_and_a_future_date_are_refused(
    client: httpx.AsyncClient, subsidy: Headers
) -> None:
    unknown = await client.post(
        "/api/v1/eligibility", json={"program": "space_travel", "subjects": [{}]}, headers=subsidy
    )
    assert unknown.status_code == 404
    assert "construction_subsidy" in unknown.json()["detail"]
    future = (TODAY + timedelta(days=1)).isoformat()
    later = await client.post(
        "/api/v1/eligibility",
        json={"program": "construction_subsidy", "subjects": [{}], "as_of": future},
        headers=subsidy,
    )
    assert later.status_code == 422
    assert later.json()["errors"][0]["field"] == "as_of"


def stricter(version: str, effective_from: str, a_minimum: int = 99) -> str:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    text = text.replace(f'version = "{SHIPPED}"', f'version = "{version}"')
    text = text.replace('effective_from = "2020-01-01"', f'effective_from = "{effective_from}"')
    return text.replace('grade = "A"\nmin = 90', f'grade = "A"\nmin = {a_minimum}')


async def test_an_answer_for_a_past_date_does_not_move(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, subsidy: Headers
) -> None:
    institution = await home(client, admin)
    await confirmed(
        client, inspector, penalty_body(institution, details=penalty_details(severity="minor"),
                                        occurred_on=(TODAY - timedelta(days=40)).isoformat())
    )  # fmt: skip
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    request = {
        "program": "construction_subsidy",
        "subjects": [{"uscc": make_uscc(1)}],
        "as_of": yesterday,
    }
    before = await client.post("/api/v1/eligibility", json=request, headers=subsidy)
    # What is recorded today, and a policy installed today even if it claims to date back,
    # were not known yesterday.
    await confirmed(
        client,
        inspector,
        abuse_body(institution, None, occurred_on=(TODAY - timedelta(days=30)).isoformat()),
    )
    installed = await client.post(
        "/api/v1/policies", content=stricter("2026.9", "2021-01-01").encode(), headers=admin
    )
    assert installed.status_code == 201, installed.text
    after = await client.post("/api/v1/eligibility", json=request, headers=subsidy)
    assert after.json() == before.json()
    assert before.json()["answers"][0]["grade"] == "A"
    today = await ask(client, subsidy, "construction_subsidy", {"uscc": make_uscc(1)})
    assert (today["policy_version"], today["answers"][0]["grade"]) == ("2026.9", "D")


async def test_policies_are_listed_read_and_installed_once(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    listed = (await client.get("/api/v1/policies", headers=inspector)).json()
    assert [(p["version"], p["in_force"]) for p in listed] == [(SHIPPED, True)]
    document = await client.get(f"/api/v1/policies/{SHIPPED}", headers=inspector)
    assert document.headers["content-type"].startswith("application/toml")
    assert document.text == DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    future = stricter("2027.1", (TODAY + timedelta(days=30)).isoformat())
    assert (
        await client.post("/api/v1/policies", content=future.encode(), headers=inspector)
    ).status_code == 403
    created = await client.post("/api/v1/policies", content=future.encode(), headers=admin)
    assert created.status_code == 201
    assert created.json()["in_force"] is False
    again = await client.post("/api/v1/policies", content=future.encode(), headers=admin)
    assert again.status_code == 201
    changed = await client.post(
        "/api/v1/policies", content=future.replace("min = 99", "min = 98").encode(), headers=admin
    )
    assert changed.status_code == 409


@pytest.mark.parametrize(
    ("mangle", "says"),
    [
        (lambda text: text + "\n[broken\n", "line"),
        (lambda text: text.replace("general = 12", 'general = "twelve"'), "$.decay.general"),
        (
            lambda text: text.replace(
                'when = { outcome = ["substantiated"] }', 'when = { outcom = ["substantiated"] }'
            ),
            "when.outcom",
        ),
        (lambda text: text.replace('grade_cap = "D"', 'grade_cap = "E"', 1), "grade_cap"),
    ],
)
async def test_a_bad_policy_is_refused_naming_the_line_or_key(
    client: httpx.AsyncClient, admin: Headers, mangle: Any, says: str
) -> None:
    text = mangle(DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(SHIPPED, "9999.1"))
    response = await client.post("/api/v1/policies", content=text.encode(), headers=admin)
    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "policy"


async def test_what_if_counts_and_names_the_changes_without_changing_anything(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, subsidy: Headers
) -> None:
    first, second = await home(client, admin, 1), await home(client, admin, 2)
    await confirmed(
        client,
        inspector,
        complaint_body(first, occurred_on=(TODAY - timedelta(days=5)).isoformat()),
    )
    report = await client.post(
        "/api/v1/admin/policy-simulations",
        content=stricter("draft", "2020-01-01").encode(),
        headers=admin,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["current_version"], body["draft_version"]) == (SHIPPED, "draft")
    assert body["grade_changes"] == 1
    (change,) = body["changes"]
    assert (change["subject_id"], change["before"]["grade"], change["after"]["grade"]) == (
        first,
        "A",
        "B",
    )
    assert second not in str(body["changes"])
    listed = (await client.get("/api/v1/policies", headers=admin)).json()
    assert [p["version"] for p in listed] == [SHIPPED]
    assert (await credit(client, admin, first))["grade"] == "A"
    forbidden = await client.post("/api/v1/admin/policy-simulations", content=b"x", headers=subsidy)
    assert forbidden.status_code == 403


async def test_star_ratings_are_checked_and_listed(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    institution = await home(client, admin)
    url = f"/api/v1/institutions/{institution}/star-ratings"
    bad_level = {
        "level": 6,
        "assessor": "x",
        "assessed_on": "2026-01-01",
        "valid_from": "2026-01-01",
        "valid_to": "2027-01-01",
    }
    assert (await client.post(url, json=bad_level, headers=inspector)).status_code == 400
    backwards = {**bad_level, "level": 3, "valid_to": "2025-01-01"}
    response = await client.post(url, json=backwards, headers=inspector)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "valid_to"
    await stars(client, inspector, institution, 3)
    assert [r["level"] for r in (await client.get(url, headers=inspector)).json()] == [3]


async def test_stored_scores_change_with_the_record_that_changes_them(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    reviewer: Headers,
    engine: AsyncEngine,
) -> None:
    institution = await home(client, admin)
    record = await confirmed(
        client,
        inspector,
        penalty_body(institution, occurred_on=(TODAY - timedelta(days=3)).isoformat()),
    )

    async def stored() -> list[tuple[str, str]]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text(
                    "SELECT score::text, grade FROM credit_score_history"
                    " WHERE subject_id = :id ORDER BY id"
                ),
                {"id": uuid.UUID(institution)},
            )
            return [tuple(row) for row in rows]

    assert await stored() == [("85.00", "B")]
    revoked = await client.post(
        f"/api/v1/records/{record}/revoke", json={"reason": "复议撤销"}, headers=reviewer
    )
    assert revoked.status_code == 200
    assert await stored() == [("85.00", "B"), ("100.00", "A")]
