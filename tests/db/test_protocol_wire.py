"""Protocol v1's wire format, described once as typed structs and checked by decoding:
the platform (our simulator) refuses a record that does not decode, naming the field,
and the importer says which field of a feed item it could not use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from processes import cli_output
from simulated import SENDER_USCC, SimulatorProcess, platform_of, record_body, sync_env

from service.integrations.client import PlatformClient


def wire(n: int, **overrides: Any) -> dict[str, Any]:
    """A black-list record as our sender puts it on the wire."""
    record = {"record_id": f"BL-wire-{n}", "version": 1, "record_type": "blacklist",
              "action": "publish", **record_body(n),
              "authority": {"name": "湖州市民政局", "uscc": SENDER_USCC}}  # fmt: skip
    return record | overrides


async def test_the_platform_refuses_a_record_that_does_not_decode_naming_the_field(
    simulator: SimulatorProcess,
) -> None:
    platform = platform_of(simulator.url).platforms[0]
    async with httpx.AsyncClient() as http:
        answers = await PlatformClient(platform, http).post_records(
            [
                wire(1),
                wire(2, effective_from="from March"),
                wire(3, authority="湖州市民政局"),
                wire(4, effective_to="2029-02-30"),
                wire(5, decision_no=""),
                wire(6, version=0),
                wire(7, subject={"kind": "org", "name": "某院", "uscc": "91330500MA2B3C4D5X"}),
            ]
        )
    assert [(answer["status"], answer.get("reason")) for answer in answers] == [
        ("accepted", None),
        ("rejected", "invalid_effective_from"),
        ("rejected", "invalid_authority"),
        ("rejected", "invalid_effective_to"),
        ("rejected", "missing_field:decision_no"),
        ("rejected", "invalid_version"),
        ("rejected", "invalid_uscc"),
    ]


async def test_the_importer_names_the_field_of_a_feed_item_it_cannot_use(
    simulator: SimulatorProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    items = [
        {"record_id": "EXT-odd-1", "version": 1, "action": "erase"},
        {"record_id": "EXT-odd-2", "version": 0, "action": "publish"},
    ]
    await simulator.control("POST", "/_sim/feed", {"items": items})
    code, out = await cli_output(sync_env(cli_env, tmp_path, simulator.url), "sync", "pull")
    assert code == 0, out
    assert "2 items, 0 imported, 0 repeats, 2 malformed" in out
    warnings = [json.loads(line) for line in out.splitlines() if "inbound_item_malformed" in line]
    assert [warning["error"] for warning in warnings] == [
        "Invalid enum value 'erase' - at `$.action`",
        "Expected `int` >= 1 - at `$.version`",
    ]
