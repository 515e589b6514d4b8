"""``credit_contributions`` (decision 0033): what record events keep is what a build from
the records gives, and the nightly recompute builds the set it needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from factories import (
    SHIPPED,
    abuse_body,
    complaint_body,
    inspection_body,
    institution_body,
    penalty_body,
    practitioner_body,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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
