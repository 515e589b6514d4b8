"""The audit chain's three blind spots before signing, each reproduced and caught.

Someone with the database's owner rights (the attacker here) can:
- delete the last rows of the log: caught by a checkpoint kept outside the database;
- append a forged row with a correctly computed hash: caught by the seal signature
  (no sealer signed it, and the sealer refuses to chain onto it);
- edit a row and recompute the hashes of the 50 rows after it: caught by the seal
  signature on the head, and by any checkpoint past the edit.
What stays out of reach: rows sealed after the last checkpoint an outsider holds can be
cut off at a batch boundary without a trace (the test of truncation shows it: verify
without the checkpoints finds nothing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_log import seal_now
from conftest import MakeToken
from joserfc import jws
from joserfc.jwk import KeySet
from processes import cli_output, free_port
from signing import session_ring, session_sealer
from sqlalchemy.ext.asyncio import AsyncEngine

from service.actor import SYSTEM
from service.audit import chain as audit
from service.audit.chain import ChainTampered, row_hash
from service.context import CommandContext
from service.db.engine import make_session_factory


async def sealed_batches(engine: AsyncEngine, batches: int, rows_each: int) -> list[int]:
    """Queue and seal ``batches`` batches of rows; the ids of each batch's last (signed) row."""
    sessions = make_session_factory(engine)
    ctx = CommandContext(actor=SYSTEM)
    heads = []
    for batch in range(batches):
        async with sessions() as session, session.begin():
            items = [
                audit.AuditItem("test.write", "test", f"{batch}-{n}", after={"n": n})
                for n in range(rows_each)
            ]
            await audit.record_many(session, ctx, items)
        await seal_now(engine)
        async with engine.connect() as connection:
            heads.append(await connection.scalar(sa.text("SELECT max(id) FROM audit_log")))
    return heads


async def as_owner(engine: AsyncEngine, *statements: str, parameters: Any = None) -> None:
    """Change the log as someone with owner rights would: switch off its guard first."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"
        )
        for statement in statements:
            await connection.exec_driver_sql(statement, parameters or ())
        await connection.exec_driver_sql(
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"
        )


async def saved_checkpoints(client: httpx.AsyncClient, cli_env: dict[str, str], path: Path) -> Path:
    """Sign a checkpoint now and keep a copy of the public list, as an outsider would."""
    code, output = await cli_output(cli_env, "audit", "checkpoint")
    assert code == 0, output
    published = await client.get("/api/v1/public/transparency/checkpoints")
    assert published.status_code == 200
    path.write_text(published.text)  # noqa: ASYNC240
    return path


@pytest.mark.parametrize("deleted", [1, 100])
async def test_deleting_the_last_rows_is_caught_by_a_checkpoint_kept_outside(
    deleted: int,
    client: httpx.AsyncClient,
    make_token: MakeToken,
    engine: AsyncEngine,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await make_token("admin")
    # The cut falls on a batch boundary: the new head is a signed one, so only the
    # checkpoint can tell anything is missing.
    heads = await sealed_batches(engine, 1, 5) + await sealed_batches(engine, 1, deleted)
    copy = await saved_checkpoints(client, cli_env, tmp_path / "checkpoints.json")
    checkpointed = json.loads(copy.read_text())["checkpoints"][0]["sequence"]
    assert checkpointed == heads[-1]

    await as_owner(engine, f"DELETE FROM audit_log WHERE id > {heads[0]}")

    alone = await cli_output(cli_env, "audit", "verify")
    assert alone[0] == 0, "without an outside copy the shorter chain looks whole"
    code, output = await cli_output(cli_env, "audit", "verify", "--checkpoints", str(copy))
    assert code == 1
    assert f"checkpoint {checkpointed} " in output
    assert f"the chain has no row {checkpointed}: rows were deleted" in output


async def test_a_forged_row_appended_with_a_correct_hash_is_caught_by_the_seal_signature(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine, cli_env: dict[str, str]
) -> None:
    await make_token("admin")
    await sealed_batches(engine, 1, 3)
    async with engine.connect() as connection:
        head = (await connection.exec_driver_sql(
            "SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1"
        )).one()  # fmt: skip
        occurred_at = await connection.scalar(sa.text("SELECT now()"))
    forged = {
        "occurred_at": occurred_at, "actor_id": None, "actor_role": "admin",
        "action": "list_entry.revoke", "target_type": "list_entry", "target_id": "forged",
        "before_digest": None, "after_digest": None, "request_id": None,
        "prev_hash": head.row_hash,
    }  # fmt: skip
    forged_hash = row_hash(forged)
    await as_owner(
        engine,
        "INSERT INTO audit_log (occurred_at, actor_role, action, target_type, target_id,"
        " prev_hash, row_hash) VALUES ($1, 'admin', 'list_entry.revoke', 'list_entry',"
        " 'forged', $2, $3)",
        parameters=(occurred_at, head.row_hash, forged_hash),
    )

    code, output = await cli_output(cli_env, "audit", "verify")
    assert code == 1
    assert f"broken at row {head.id + 1}: rows after the last sealed one were written below" in (
        output
    )
    # The sealer will not vouch for it: what is queued waits, committed, nothing lost.
    async with make_session_factory(engine)() as session, session.begin():
        await audit.record(
            session, CommandContext(actor=SYSTEM), action="test.after", target_type="t",
            target_id="1",
        )  # fmt: skip
    with pytest.raises(ChainTampered, match=f"row {head.id + 1} is the chain's head"):
        await seal_now(engine)
    async with engine.connect() as connection:
        waiting = await connection.scalar(sa.text("SELECT count(*) FROM audit_queue"))
    assert waiting >= 1


async def test_an_edit_with_the_next_50_hashes_recomputed_is_caught_by_signature_and_checkpoint(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    engine: AsyncEngine,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await make_token("admin")
    await sealed_batches(engine, 1, 60)
    copy = await saved_checkpoints(client, cli_env, tmp_path / "checkpoints.json")
    async with engine.connect() as connection:
        rows = [
            dict(row._mapping)
            for row in await connection.exec_driver_sql(
                "SELECT * FROM audit_log ORDER BY id DESC LIMIT 51"
            )
        ][::-1]
    # The attacker edits the first of the last 51 rows and recomputes the 50 after it.
    rows[0]["target_id"] = "rewritten"
    prev = rows[0]["prev_hash"]
    statements = []
    for row in rows:
        row["prev_hash"] = prev
        row["row_hash"] = prev = row_hash(row)
        statements.append(
            f"UPDATE audit_log SET target_id = '{row['target_id']}', prev_hash = "
            f"'{row['prev_hash']}', row_hash = '{row['row_hash']}' WHERE id = {row['id']}"
        )
    await as_owner(engine, *statements)

    async with engine.connect() as connection:
        report = await audit.verify(connection, session_sealer().keys)
    assert (report.first_broken_id, report.problem) == (
        rows[-1]["id"],
        "the head's seal signature does not verify with the service's keys",
    )  # every link holds: only the signature tells
    code, output = await cli_output(cli_env, "audit", "verify", "--checkpoints", str(copy))
    assert code == 1
    assert "the head's seal signature does not verify" in output
    assert "hash differs from the checkpoint's: the chain up to it was rewritten" in output


async def test_checkpoints_are_standard_jws_a_third_party_library_verifies(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine, cli_env: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    await make_token("admin")
    copy = await saved_checkpoints(client, cli_env, tmp_path / "checkpoints.json")
    item = json.loads(copy.read_text())["checkpoints"][0]
    keys = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    verified = jws.deserialize_compact(item["jws"], keys, algorithms=["EdDSA"])
    payload = json.loads(verified.payload)
    assert payload["type"] == "audit-checkpoint"
    assert (payload["sequence"], payload["row_hash"]) == (item["sequence"], item["row_hash"])
    assert payload["kid"] == item["key_id"] == session_ring().kid
    code, output = await cli_output(cli_env, "audit", "verify", "--checkpoints", str(copy))
    assert code == 0, output
    assert "all 1 outside checkpoints held" in output


def _forged_jws() -> str:
    """A checkpoint signed by a key that is not the service's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from service.signing.jws import Signer
    from service.signing.keys import KeyRing

    other = Ed25519PrivateKey.generate()
    ring = KeyRing(other, "not-ours")
    return Signer(ring, "audit-checkpoint+jws").sign(
        {"type": "audit-checkpoint", "sequence": 1, "row_hash": "0" * 64, "kid": "not-ours"}
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a checkpoint at all", "a compact JWS has three dot-separated parts"),
        (b'{"checkpoints": 7}', "expected a list of checkpoints"),
        (b"[1, 2]", "each checkpoint is a JWS string"),
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
        (b"a.b\x00.c", "not base64url JSON"),
        (_forged_jws().encode(), "no public key with kid 'not-ours'"),
    ],
)
async def test_hostile_checkpoint_files_get_one_line_and_exit_1(
    content: bytes,
    expected: str,
    client: httpx.AsyncClient,
    make_token: MakeToken,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await make_token("admin")
    hostile = tmp_path / "checkpoints.json"
    hostile.write_bytes(content)
    code, output = await cli_output(cli_env, "audit", "verify", "--checkpoints", str(hostile))
    assert code == 1
    assert expected in output
    assert "Traceback" not in output


async def test_an_unreachable_copy_or_key_set_is_named_by_its_origin_only(
    client: httpx.AsyncClient, make_token: MakeToken, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await make_token("admin")
    url = (
        f"http://127.0.0.1:{free_port()}/api/v1/public/transparency/checkpoints?token=s3cr3t-t0ken"
    )
    code, output = await cli_output(cli_env, "audit", "verify", "--checkpoints", url)
    assert code == 1
    assert f"cannot fetch from http://127.0.0.1:{url.split(':')[2].split('/')[0]}" in output
    assert "s3cr3t" not in output
    missing = tmp_path / "nowhere.json"
    code, output = await cli_output(
        cli_env, "audit", "verify", "--checkpoints", str(missing), "--jwks", str(missing)
    )
    assert code == 1
    assert "cannot read" in output
    assert "Traceback" not in output
