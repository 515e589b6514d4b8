"""One policy in force for everything: after an admin installs a policy with another
`[disclosure]` section, the record, the dual-disclosure export, the public page and
API, and the platform all say the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from conftest import CLI
from factories import SHIPPED, institution_body, make_uscc, penalty_body, penalty_details
from simulated import CLIENT_ID, PLATFORM, SimulatorProcess, platform_of, write_platforms_file
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import local_date
from service.dates import add_months
from service.integrations.sync import register_platforms
from service.policy.load import DEFAULT_POLICY_FILE

Headers = dict[str, str]
SHIPPED_DISCLOSURE = (
    'unpublished_penalty_kinds = ["warning"]',
    "publication_months = { minor = 3, general = 36, serious = 36 }",
)
# Confiscation alone is no longer published; a general violation is published 2 years.
INSTALLED_DISCLOSURE = (
    'unpublished_penalty_kinds = ["warning", "confiscation"]',
    "publication_months = { minor = 6, general = 24, serious = 60 }",
)
FINED, CONFISCATED = "长民罚〔2026〕3号", "长民罚〔2026〕7号"
DECIDED_ON = date(2026, 6, 1)


def policy_effective_today() -> str:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    for shipped, installed in zip(SHIPPED_DISCLOSURE, INSTALLED_DISCLOSURE, strict=True):
        assert text.count(shipped) == 1
        text = text.replace(shipped, installed)
    today = local_date(datetime.now(UTC)).isoformat()
    return text.replace(SHIPPED, "2026.9-disclosure").replace(
        'effective_from = "2020-01-01"', f'effective_from = "{today}"'
    )


async def confirmed_penalty(
    client: httpx.AsyncClient, admin: Headers, home: str, document_no: str, **details: object
) -> dict[str, object]:
    body = penalty_body(
        home,
        document_no=document_no,
        occurred_on=DECIDED_ON.isoformat(),
        details=penalty_details(**details),
    )
    response = await client.post(
        "/api/v1/records", json=body, params={"confirm": True}, headers=admin
    )
    assert response.status_code == 201, response.text
    record: dict[str, object] = response.json()
    return record


async def test_an_installed_disclosure_policy_rules_the_record_export_public_view_and_platform(
    simulator: SimulatorProcess,
    session_factory: async_sessionmaker[AsyncSession],
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: Headers,
) -> None:
    installed = await client.post(
        "/api/v1/policies", content=policy_effective_today().encode(), headers=admin
    )
    assert installed.status_code == 201, installed.text
    assert installed.json()["in_force"] is True
    async with session_factory() as session, session.begin():
        await register_platforms(session, platform_of(simulator.url))
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()

    fined = await confirmed_penalty(client, admin, home["id"], FINED)
    await confirmed_penalty(
        client, admin, home["id"], CONFISCATED, penalty_kinds=["confiscation"],
        fine_amount=None, content="没收违法所得人民币贰仟元", confiscated_amount="2000.00",
    )  # fmt: skip
    ends = add_months(DECIDED_ON, 24).isoformat()  # the installed policy's period, not 36
    assert fined["details"]["publication_end_date"] == ends  # type: ignore[index]

    export = (await client.get("/api/v1/disclosures/penalties", headers=admin)).json()
    assert [(row["decision_no"], row["publication_end_date"]) for row in export["items"]] == [
        (FINED, ends)
    ]
    csv = await client.get("/api/v1/disclosures/penalties", params={"format": "csv"}, headers=admin)
    assert FINED in csv.text
    assert CONFISCATED not in csv.text

    public = (await client.get(f"/api/v1/public/institutions/{make_uscc(1)}")).json()
    assert [(p["decision_no"], p["publication_end_date"]) for p in public["penalties"]] == [
        (FINED, ends)
    ]
    page = await client.get(f"/institutions/{make_uscc(1)}")
    assert page.status_code == 200
    assert FINED in page.text
    assert ends in page.text
    assert CONFISCATED not in page.text

    env = cli_env | {"PLATFORMS_FILE": str(write_platforms_file(tmp_path, simulator.url))}
    process = await asyncio.create_subprocess_exec(
        CLI, "sync", "push", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode() + err.decode()
    assert f"{PLATFORM}: 1 delivered, 0 rejected" in out.decode()
    held = await simulator.control(
        "GET", f"/_sim/records?client_id={CLIENT_ID}&record_type=penalty"
    )
    assert [
        (r["record"]["decision_no"], r["record"]["effective_to"], r["status"])
        for r in held["records"]
    ] == [(FINED, ends, "in_force")]


def test_only_ensure_shipped_reads_the_shipped_policy_file() -> None:
    """The guard of the class: service code applies the installed policy in force, never
    the file on disk (policy/load.py defines it; policy/store.py installs it)."""
    import service

    root = Path(service.__file__).parent
    allowed = {root / "policy" / "load.py", root / "policy" / "store.py"}
    readers = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path not in allowed
        and any(
            name in path.read_text("utf-8") for name in ("shipped_policy", "DEFAULT_POLICY_FILE")
        )
    ]
    assert readers == []
    store = (root / "policy" / "store.py").read_text("utf-8")
    assert store.count("DEFAULT_POLICY_FILE.read_text") == 1  # in ensure_shipped
