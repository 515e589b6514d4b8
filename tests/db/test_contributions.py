"""``credit_contributions`` (decision 0033): what record events keep is what a build from
the records gives, and the nightly recompute builds the set it needs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from conftest import MakeToken, MovableClock, bearer
from factories import (
    SHIPPED,
    abuse_body,
    complaint_body,
    inspection_body,
    institution_body,
    make_uscc,
    penalty_body,
    penalty_details,
    practitioner_body,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.clock import CHINA_TZ, start_of_local_day
from service.credit.bulk import summable
from service.credit.contributions import ensure_built
from service.credit.scoring import recompute
from service.policy.store import policy_version
from service.wiring import system_context

Headers = dict[str, str]


async def _rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT * FROM credit_contributions ORDER BY policy_version, record_id,"
                " subject_kind, part"
            )
        )
        return [dict(row._mapping) for row in rows]


async def _build(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        policy = await policy_version(AsyncSession(bind=connection), SHIPPED)
        await ensure_built(connection, policy)


async def _created(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers, **params: Any
) -> dict[str, Any]:
    response = await client.post(path, json=body, params=params, headers=headers)
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


async def test_record_events_keep_what_a_build_gives(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    reviewer: Headers,
    engine: AsyncEngine,
) -> None:
    await _build(engine)  # an empty set, built before any record
    assert await _rows(engine) == []
    home = (await _created(client, "/api/v1/institutions", institution_body(), admin))["id"]
    person = (await _created(client, "/api/v1/practitioners", practitioner_body(), admin))["id"]
    records = "/api/v1/records"
    inspection = await _created(client, records, inspection_body(home), inspector, confirm=True)
    open_item = next(d for d in inspection["deficiencies"] if d["rectified_on"] is None)
    await _created(
        client,
        f"{records}/{inspection['id']}/deficiencies/{open_item['id']}/rectification",
        {"rectified_on": "2026-03-30"},
        inspector,
    )
    complaint = await _created(client, records, complaint_body(home), inspector, confirm=True)
    fix = complaint_body(home)
    fix["details"]["outcome"] = "unsubstantiated"  # the correction matches no rule
    await _created(
        client,
        f"{records}/{complaint['id']}/corrections",
        {"reason": "核查结论录入错误", "record": fix},
        inspector,
        confirm=True,
    )
    penalty = await _created(client, records, penalty_body(home), inspector, confirm=True)
    await _created(client, f"{records}/{penalty['id']}/revoke", {"reason": "复议撤销"}, reviewer)
    await _created(client, records, abuse_body(home, person), inspector, confirm=True)

    kept = await _rows(engine)
    # Two deficiencies, the complaint before its correction, the penalty, the abuse
    # finding once for each subject it names.
    assert len(kept) == 6
    assert {row["subject_kind"] for row in kept} == {"institution", "practitioner"}
    assert sum(1 for row in kept if row["known_until"] is not None) == 2  # corrected, revoked
    assert sum(1 for row in kept if row["rectified_on"] is not None) == 2  # both deficiencies
    async with engine.begin() as connection:
        await connection.execute(sa.text("TRUNCATE credit_contributions, credit_contribution_sets"))
    await _build(engine)
    assert await _rows(engine) == kept


async def test_the_recompute_builds_the_set_of_its_policy_once(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, engine: AsyncEngine
) -> None:
    home = (await _created(client, "/api/v1/institutions", institution_body(), admin))["id"]
    await _created(client, "/api/v1/records", inspection_body(home), inspector, confirm=True)
    assert await _rows(engine) == []  # no set is built: events keep none
    first = await recompute(engine, system_context())
    assert first.policy_version == SHIPPED
    built = await _rows(engine)
    assert len(built) == 2
    await recompute(engine, system_context())
    assert await _rows(engine) == built


async def test_a_draft_under_an_installed_version_name_is_not_summed(
    engine: AsyncEngine, clean_db: None
) -> None:
    await _build(engine)
    async with AsyncSession(engine) as session:
        installed = await policy_version(session, SHIPPED)
        draft = msgspec.structs.replace(
            installed, score=msgspec.structs.replace(installed.score, start=Decimal(90))
        )
        assert draft.version == installed.version
        assert await summable(session, installed)
        assert not await summable(session, draft)  # its own points: from the records


async def test_past_date_answers_are_the_same_summed_or_derived(
    client: httpx.AsyncClient,
    admin: Headers,
    inspector: Headers,
    reviewer: Headers,
    make_token: MakeToken,
    engine: AsyncEngine,
    clock: MovableClock,
) -> None:
    """Eligibility for past dates over the API, from the built set and from the records;
    each record written on the day it happened, as an inspector would."""
    subsidy = bearer(await make_token("subsidy_client", name="补贴系统"))
    today = datetime.now(CHINA_TZ).date()

    def day(back: int) -> str:
        clock.set(start_of_local_day(today - timedelta(days=back)) + timedelta(hours=10))
        return (today - timedelta(days=back)).isoformat()

    await _build(engine)  # the events below keep it
    homes = []
    for n in (1, 2, 3):
        body = institution_body(n, uscc=make_uscc(n))
        homes.append((await _created(client, "/api/v1/institutions", body, admin))["id"])
    records = "/api/v1/records"
    serious = penalty_details(severity="serious")
    await _created(
        client, records, penalty_body(homes[0], details=serious, occurred_on=day(60)), inspector,
        confirm=True,
    )  # fmt: skip
    deficiencies = [
        {"item": "消防通道堆放杂物", "severity": "serious", "scope": "pattern",
         "rectification_deadline": day(48)},
        {"item": "护理记录缺签", "severity": "general", "scope": "isolated",
         "rectification_deadline": day(30)},
    ]  # fmt: skip
    body = inspection_body(homes[1], occurred_on=day(50), deficiencies=deficiencies)
    inspection = await _created(client, records, body, inspector, confirm=True)
    open_item = next(d for d in inspection["deficiencies"] if d["rectified_on"] is None)
    await _created(
        client,
        f"{records}/{inspection['id']}/deficiencies/{open_item['id']}/rectification",
        {"rectified_on": day(45)},
        inspector,
    )
    revoked = await _created(
        client, records, abuse_body(homes[2], None, occurred_on=day(40)), inspector, confirm=True
    )
    await _created(client, f"{records}/{revoked['id']}/revoke", {"reason": "复议撤销"}, reviewer)
    await _created(
        client, records, complaint_body(homes[2], occurred_on=day(20)), inspector, confirm=True
    )

    clock.pinned = None

    async def answers() -> list[Any]:
        found = []
        for back in (1, 30, 55):
            request = {
                "program": "construction_subsidy",
                "subjects": [{"uscc": make_uscc(n)} for n in (1, 2, 3)],
                "as_of": (today - timedelta(days=back)).isoformat(),
            }
            response = await client.post("/api/v1/eligibility", json=request, headers=subsidy)
            assert response.status_code == 200, response.text
            found.append(response.json())
        return found

    summed = await answers()
    async with engine.begin() as connection:
        await connection.execute(sa.text("TRUNCATE credit_contributions, credit_contribution_sets"))
    derived = await answers()
    assert summed == derived
    grades = [answer["grade"] for found in summed for answer in found["answers"]]
    assert set(grades) != {"A"}  # the records counted
