"""Signed eligibility decisions (issue 15 §3), over real HTTP, checked by a third party.

With ``signed=true`` each answer of status ``ok`` carries a compact JWS (EdDSA) of its
decision, verified here with joserfc against the key set fetched from
``/.well-known/jwks.json``; the decision is stored without personal data and read back
at ``/api/v1/eligibility/decisions/{id}``; ``credit-service decisions verify`` checks a
saved answer offline. Without ``signed`` the answer is what it always was.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import CLI, MakeToken, bearer, serve
from factories import SHIPPED, institution_body, make_id_number, make_uscc, practitioner_body
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncEngine
from test_bad_input import assert_problem

from service.app import create_app
from service.config import Settings
from service.eligibility.signed import decision_ids

# joserfc warns that RFC 9864 deprecates the polymorphic "EdDSA" in favour of "Ed25519";
# "EdDSA" is what RFC 8037 defines and what verifiers accept today.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

Headers = dict[str, str]
ANSWER_KEYS = {
    "index", "status", "uscc", "id_number_masked", "message", "eligible", "review", "reasons",
    "grade", "score", "effective_stars", "assessed_stars", "lists", "policy_version", "as_of",
}  # fmt: skip


@pytest.fixture
async def subsidy(make_token: MakeToken) -> Headers:
    return bearer(await make_token("subsidy_client", name="补贴系统"))


async def registered(client: httpx.AsyncClient, admin: Headers) -> None:
    """Two homes and a care worker."""
    for n in (1, 2):
        created = await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
        assert created.status_code == 201, created.text
    person = await client.post("/api/v1/practitioners", json=practitioner_body(1), headers=admin)
    assert person.status_code == 201, person.text


async def ask(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any], **params: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/eligibility", json=body, params=params, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def key_set(client: httpx.AsyncClient) -> KeySet:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return KeySet.import_key_set(response.json())


def joserfc_payload(compact: str, keys: KeySet) -> tuple[dict[str, Any], dict[str, Any]]:
    verified = jws.deserialize_compact(compact, keys, algorithms=["EdDSA"])
    return verified.protected, json.loads(verified.payload)


def tampered_payload(compact: str) -> str:
    """The same JWS with "eligible":false made true in its payload (or the reverse)."""
    header, payload, signature = compact.split(".")
    decoded = jws_part(payload).decode()
    flipped = (
        decoded.replace('"eligible":false', '"eligible":true')
        if '"eligible":false' in decoded
        else decoded.replace('"eligible":true', '"eligible":false')
    )
    assert flipped != decoded
    import base64

    encoded = base64.urlsafe_b64encode(flipped.encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def tampered_signature(compact: str) -> str:
    header, payload, signature = compact.split(".")
    changed = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{changed}"


def jws_part(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [CLI, *args], env=env, capture_output=True, text=True, timeout=120
    )


BODY = {
    "program": "operating_subsidy",
    "subjects": [{"uscc": make_uscc(1)}, {"uscc": make_uscc(2)}, {"uscc": make_uscc(9)}, {}],
}


async def test_a_signed_decision_verifies_with_a_third_party_library_against_the_jwks(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers
) -> None:
    await registered(client, admin)
    body = await ask(client, subsidy, BODY, signed="true")
    answers = body["answers"]
    assert [a["status"] for a in answers] == ["ok", "ok", "not_found", "invalid"]
    assert [a["decision_id"] is None for a in answers[:2]] == [False, False]
    assert all("decision_jws" not in a for a in answers[2:])
    keys = await key_set(client)
    jwks = (await client.get("/.well-known/jwks.json")).json()
    for answer in answers[:2]:
        header, payload = joserfc_payload(answer["decision_jws"], keys)
        assert header == {"alg": "EdDSA", "kid": jwks["keys"][0]["kid"], "typ": header["typ"]}
        assert payload == {
            "type": "eligibility-decision",
            "decision_id": answer["decision_id"],
            "subject": {"kind": "institution", "uscc": answer["uscc"]},
            "program": "operating_subsidy",
            "as_of": answer["as_of"],
            "policy_version": answer["policy_version"],
            "eligible": answer["eligible"],
            "review": answer["review"],
            "reasons": answer["reasons"],
            "grade": answer["grade"],
            "effective_stars": answer["effective_stars"],
            "issued_at": payload["issued_at"],
            "kid": header["kid"],
        }
        assert payload["issued_at"].endswith("Z")
        assert uuid.UUID(answer["decision_id"]).version == 7
        # The stored decision says the same, and holds the digest of exactly these bytes.
        stored = await client.get(
            f"/api/v1/eligibility/decisions/{answer['decision_id']}", headers=subsidy
        )
        assert stored.status_code == 200, stored.text
        row = stored.json()
        signed_bytes = jws_part(answer["decision_jws"].split(".")[1])
        assert row["payload_sha256"] == hashlib.sha256(signed_bytes).hexdigest()
        assert row["subject"] == {"kind": "institution", "uscc": answer["uscc"]}
        assert row["key_id"] == header["kid"]
        assert (row["id"], row["program"], row["as_of"], row["policy_version"]) == (
            answer["decision_id"], "operating_subsidy", answer["as_of"], SHIPPED,
        )  # fmt: skip
        assert [row[k] for k in ("eligible", "review", "reasons", "grade", "effective_stars")] == [
            answer[k] for k in ("eligible", "review", "reasons", "grade", "effective_stars")
        ]
    # The answers to one subject asked alone, signed, verify too.
    one = await client.get(
        f"/api/v1/eligibility/operating_subsidy/{make_uscc(1)}",
        params={"signed": "true"},
        headers=subsidy,
    )
    assert one.status_code == 200, one.text
    _, payload = joserfc_payload(one.json()["decision_jws"], keys)
    assert payload["decision_id"] == one.json()["decision_id"] != answers[0]["decision_id"]


async def test_a_tampered_decision_is_refused_by_joserfc_and_by_the_command(
    client: httpx.AsyncClient,
    admin: Headers,
    subsidy: Headers,
    live_server: str,
    test_settings: Settings,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await registered(client, admin)
    body = await ask(client, subsidy, BODY, signed="true")
    good = body["answers"][0]["decision_jws"]
    keys = await key_set(client)
    for bad in (tampered_payload(good), tampered_signature(good)):
        with pytest.raises(BadSignatureError):
            joserfc_payload(bad, keys)
    with pytest.raises(JoseError):
        joserfc_payload(good.replace(".", "..", 1), keys)

    # Offline: against the published set, and against the local key ring (never made).
    env = {**cli_env, "SIGNING_KEY_FILE": str(test_settings.signing_key_path)}
    saved = tmp_path / "answer.json"
    saved.write_text(json.dumps(body), encoding="utf-8")
    for source in (["--jwks", f"{live_server}/.well-known/jwks.json"], []):
        result = await run_cli(env, "decisions", "verify", str(saved), *source)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("signature valid (kid ") == 2
        assert body["answers"][1]["decision_id"] in result.stdout
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text((await client.get("/.well-known/jwks.json")).text, encoding="utf-8")
    one = tmp_path / "one.jws"
    one.write_text(good + "\n", encoding="ascii")
    result = await run_cli(env, "decisions", "verify", str(one), "--jwks", str(jwks_file))
    assert result.returncode == 0, result.stderr
    assert (
        json.loads(result.stdout.rsplit("\n", 2)[0])["decision_id"]
        == (body["answers"][0]["decision_id"])
    )
    for bad in (tampered_payload(good), tampered_signature(good), "not.a.jws"):
        one.write_text(bad, encoding="ascii")
        for source in (["--jwks", str(jwks_file)], []):
            refused = await run_cli(env, "decisions", "verify", str(one), *source)
            assert refused.returncode == 1, refused.stdout
            assert refused.stdout == ""
            assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert "Traceback" not in refused.stderr
    # Without a key anywhere, the command says so and makes none.
    missing = tmp_path / "nowhere" / "ed25519.pem"
    nothing = await run_cli({**cli_env, "SIGNING_KEY_FILE": str(missing)}, "decisions", "verify",
                            str(saved))  # fmt: skip
    assert nothing.returncode == 1
    assert "no signing key" in nothing.stderr
    assert not missing.exists()


async def test_a_practitioner_decision_carries_no_id_number(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers, engine: AsyncEngine
) -> None:
    await registered(client, admin)
    clear = make_id_number(1)
    response = await client.post(
        "/api/v1/eligibility",
        json={"program": "caregiver_post_allowance", "subjects": [{"id_number": clear}]},
        params={"signed": "true"},
        headers=subsidy,
    )
    assert response.status_code == 200, response.text
    answer = response.json()["answers"][0]
    assert answer["status"] == "ok"
    payload = json.loads(jws_part(answer["decision_jws"].split(".")[1]))
    subject = payload["subject"]
    assert subject["kind"] == "practitioner"
    assert subject["id_number_masked"] == answer["id_number_masked"] != clear
    assert len(subject["id_number_hash"]) == 64
    one = await client.get(
        f"/api/v1/eligibility/caregiver_post_allowance/{clear}",
        params={"signed": "true"},
        headers=subsidy,
    )
    assert one.status_code == 200, one.text
    stored = await client.get(
        f"/api/v1/eligibility/decisions/{answer['decision_id']}", headers=subsidy
    )
    assert stored.json()["subject"] == {"kind": "practitioner", **{
        k: v for k, v in subject.items() if k != "kind"
    }}  # fmt: skip
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM eligibility_decisions"))).all()
    assert len(rows) == 2
    for text in (response.text, one.text, stored.text, repr(rows)):
        assert clear not in text
        assert clear[:-1] not in text  # nor the number without its check character
    for compact in (answer["decision_jws"], one.json()["decision_jws"]):
        assert clear not in jws_part(compact.split(".")[1]).decode()


async def test_a_decision_signed_before_a_rotation_still_verifies(
    client: httpx.AsyncClient,
    admin: Headers,
    subsidy: Headers,
    test_settings: Settings,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await registered(client, admin)
    settings = replace(test_settings, signing_key_file=tmp_path / "keys" / "ed25519.pem")

    async def signed_once() -> tuple[dict[str, Any], dict[str, Any]]:
        """A decision signed by a freshly started app, and the key set it publishes."""
        got: list[tuple[dict[str, Any], dict[str, Any]]] = []
        async for url in serve(create_app(settings)):
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                answer = (await ask(http, subsidy, BODY, signed="true"))["answers"][0]
                got.append((answer, (await http.get("/.well-known/jwks.json")).json()))
        return got[0]

    before, jwks_before = await signed_once()
    env = {**cli_env, "SIGNING_KEY_FILE": str(settings.signing_key_path)}
    rotated = await run_cli(env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    old_kid, new_kid = (line.split()[-1] for line in rotated.stdout.splitlines())
    assert old_kid == jwks_before["keys"][0]["kid"] != new_kid
    assert "restart" in rotated.stderr
    after, jwks_after = await signed_once()  # a new app: it reads the new key
    assert [key["kid"] for key in jwks_after["keys"]] == [new_kid, old_kid]
    keys = KeySet.import_key_set({"keys": jwks_after["keys"]})
    header, payload = joserfc_payload(before["decision_jws"], keys)
    assert (header["kid"], payload["decision_id"]) == (old_kid, before["decision_id"])
    assert joserfc_payload(after["decision_jws"], keys)[0]["kid"] == new_kid
    # The new key alone does not verify the old decision: the retired key does.
    only_new = KeySet.import_key_set({"keys": jwks_after["keys"][:1]})
    with pytest.raises(JoseError):
        joserfc_payload(before["decision_jws"], only_new)
    shown = await run_cli(env, "keys", "show")
    assert shown.returncode == 0, shown.stderr
    assert {key["kid"] for key in json.loads(shown.stdout)["keys"]} == {old_kid, new_kid}


@pytest.mark.parametrize("value", ["maybe", "%00", "tru%00e", "2", ""])
async def test_a_hostile_signed_parameter_is_refused_by_name(
    client: httpx.AsyncClient, subsidy: Headers, value: str
) -> None:
    bulk = await client.post(
        f"/api/v1/eligibility?signed={value}",
        json={"program": "operating_subsidy", "subjects": [{"uscc": make_uscc(1)}]},
        headers=subsidy,
    )
    assert_problem(bulk, 400, "signed")
    one = await client.get(
        f"/api/v1/eligibility/operating_subsidy/{make_uscc(1)}?signed={value}", headers=subsidy
    )
    assert_problem(one, 400, "signed")


@pytest.mark.parametrize(
    ("decision_id", "status"),
    [
        ("not-a-uuid", 422),
        ("%00", 400),
        ("0" * 5000, 422),
        ("'%20OR%201=1--", 422),
        ("018f3a2b-0000-7000-8000-00000000000g", 422),
    ],
)
async def test_a_malformed_decision_id_is_refused_by_name(
    client: httpx.AsyncClient, subsidy: Headers, decision_id: str, status: int
) -> None:
    response = await client.get(f"/api/v1/eligibility/decisions/{decision_id}", headers=subsidy)
    assert_problem(response, status, "decision_id")


async def test_an_unknown_decision_is_a_404_and_only_callers_may_read_one(
    client: httpx.AsyncClient, subsidy: Headers, inspector: Headers, admin: Headers
) -> None:
    unknown = f"/api/v1/eligibility/decisions/{uuid.uuid4()}"
    assert_problem(await client.get(unknown, headers=subsidy), 404)
    assert_problem(await client.get(unknown, headers=admin), 404)
    assert_problem(await client.get(unknown, headers=inspector), 403)
    assert_problem(await client.get(unknown), 401)


async def test_without_signed_the_answer_is_as_before(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers, engine: AsyncEngine
) -> None:
    await registered(client, admin)
    absent = await ask(client, subsidy, BODY)
    unsigned = await ask(client, subsidy, BODY, signed="false")
    assert absent == unsigned
    for answer in absent["answers"]:
        assert set(answer) == ANSWER_KEYS
    one = await client.get(f"/api/v1/eligibility/operating_subsidy/{make_uscc(1)}", headers=subsidy)
    assert set(one.json()) == ANSWER_KEYS
    async with engine.connect() as connection:
        count = await connection.scalar(sa.text("SELECT count(*) FROM eligibility_decisions"))
    assert count == 0


async def test_a_re_run_as_of_the_same_date_reproduces_the_stored_decision(
    client: httpx.AsyncClient, admin: Headers, subsidy: Headers
) -> None:
    await registered(client, admin)
    signed = await ask(client, subsidy, BODY, signed="true")
    for answer in signed["answers"][:2]:
        stored = (
            await client.get(
                f"/api/v1/eligibility/decisions/{answer['decision_id']}", headers=subsidy
            )
        ).json()
        again = await ask(
            client,
            subsidy,
            {"program": stored["program"], "as_of": stored["as_of"],
             "subjects": [{"uscc": stored["subject"]["uscc"]}]},
        )  # fmt: skip
        rerun = again["answers"][0]
        assert again["policy_version"] == stored["policy_version"]
        for key in ("eligible", "review", "reasons", "grade", "effective_stars"):
            assert rerun[key] == stored[key], key


async def test_the_key_set_is_public_and_cacheable(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "max-age=" in response.headers["cache-control"]
    assert "public" in response.headers["cache-control"]
    (key,) = response.json()["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"OKP", "Ed25519", "EdDSA", "sig"}
    assert "d" not in key  # never the private half


def test_decision_ids_are_distinct_uuid7s() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ids = decision_ids(10_000, moment)
    assert len(set(ids)) == 10_000
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert {u.int >> 80 for u in parsed} == {int(moment.timestamp() * 1000)}
