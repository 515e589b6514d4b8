"""A penalty discloses the same fields in the export and in the platforms' record."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from factories import AUTHORITY_USCC, institution_body, make_uscc, penalty_body, penalty_details
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.dates import add_months
from service.facts.details import penalty_details as stored_penalty
from service.integrations.staging import penalty_record_id
from service.policy.load import shipped_policy
from service.records.disclosure import COLUMN_KEYS, penalty_fields
from service.records.models import Record

Headers = dict[str, str]
# The export's columns that say who was penalised and how the feed sees the row.
PARTY_AND_FEED = {
    "record_id", "disclosure_status", "changed_at", "withdrawal_reason", "subject_name",
    "subject_kind", "uscc", "id_number_masked",
}  # fmt: skip
SOURCE_USCC = make_uscc(5, prefix="11")
EVERY_FIELD = penalty_details(
    penalty_kinds=["fine", "confiscation", "suspension"],
    confiscated_amount="1200.50",
    licence_affected="养老机构备案回执 浙备〔2024〕8号",
    valid_until="2026-12-31",
    publication_end_date="2027-06-30",
    data_source="长兴县综合行政执法局",
    data_source_uscc=SOURCE_USCC,
)
REQUIRED_ONLY = penalty_details(severity="serious")


def published_until(body: dict[str, Any]) -> str:
    """The decision date plus the policy's months for the body's severity."""
    months = shipped_policy().disclosure.months_for(body["details"]["severity"])
    return add_months(date.fromisoformat(body["occurred_on"]), months).isoformat()


def expected_fields(body: dict[str, Any], region_code: str) -> dict[str, Any]:
    """The penalty's disclosed fields, as the body that recorded it says."""
    details = body["details"]
    return {
        "decision_no": body["document_no"],
        "violation_type": details["violation_type"],
        "violation_facts": details["violation_facts"],
        "legal_basis": body["legal_basis"],
        "penalty_kinds": ";".join(details["penalty_kinds"]),
        "content": details["content"],
        "fine_amount": details["fine_amount"],
        "confiscated_amount": details.get("confiscated_amount"),
        "licence_affected": details.get("licence_affected"),
        "decision_date": body["occurred_on"],
        "valid_until": details.get("valid_until"),
        "publication_end_date": details.get("publication_end_date", published_until(body)),
        "authority_name": details["authority_name"],
        "authority_uscc": details["authority_uscc"],
        "data_source": details.get("data_source", details["authority_name"]),
        "data_source_uscc": details.get("data_source_uscc", AUTHORITY_USCC),
        "region_code": region_code,
    }


@pytest.mark.parametrize("details", [EVERY_FIELD, REQUIRED_ONLY], ids=["every", "required"])
async def test_the_export_row_and_the_platform_record_carry_the_same_penalty_fields(
    client: httpx.AsyncClient,
    admin: Headers,
    session_factory: async_sessionmaker[AsyncSession],
    details: dict[str, Any],
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    body = penalty_body(home["id"], details=details)
    created = await client.post(
        "/api/v1/records", json=body, params={"confirm": True}, headers=admin
    )
    assert created.status_code == 201, created.text
    expected = expected_fields(body, home["region_code"])

    feed = await client.get("/api/v1/disclosures/penalties", headers=admin)
    (row,) = feed.json()["items"]
    assert {key: row[key] for key in row if key not in PARTY_AND_FEED} == expected
    assert list(row) == list(COLUMN_KEYS)

    chain_id = uuid.UUID(created.json()["chain_id"])
    async with session_factory() as session:
        staged = await session.scalar(
            sa.text("SELECT body FROM sync_records WHERE record_id = :id"),
            {"id": penalty_record_id(chain_id)},
        )
        record = await session.get(Record, uuid.UUID(created.json()["id"]))
    assert staged["penalty"] == expected
    assert record is not None
    # The one function both are built from:
    assert penalty_fields(record, stored_penalty(record.details)) == expected
