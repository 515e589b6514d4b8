"""Signed eligibility decisions: one compact JWS (EdDSA) per subject answered, each kept.

With ``signed=true`` every answer of status ``ok`` gets a decision id and a JWS over
the decision (``DecisionPayload``), signed with the service's current key, whose public
half is published at ``/.well-known/jwks.json``; a subsidy office keeps the JWS and can
check it later without asking this service. Every signed decision is also stored
(``eligibility_decisions``), with the SHA-256 of the signed payload: what was decided,
for whom, under which policy and key, without personal data.

Built for ten thousand decisions a request: the payloads are msgspec structs of plain
strings, booleans and numbers, encoded once (the bytes signed are the bytes hashed);
the JWS header is encoded once per request; the rows go in one COPY; and the signatures
(about 30 µs each, the bulk of the cost) are made in worker threads, since the Ed25519
signature releases the GIL, while the event loop sends the COPY meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import anyio.to_thread
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.eligibility.models import EligibilityDecision
from service.eligibility.service import CALLERS, Eligibility
from service.errors import Invalid, NotFound
from service.signing.jws import InvalidJWS, Signer, verify
from service.signing.keys import KeyRing, VerifyingKeys

DECISION_TYPE = "eligibility-decision"  # the payload's "type"
JWS_TYPE = "eligibility-decision+jws"  # the JWS header's "typ"
# Below this many decisions the signatures are made on the event loop: a thread's
# hand-over would cost more than it saves.
THREADED_FROM = 256
SIGNING_THREADS = max(1, min(4, os.cpu_count() or 1))

COLUMNS = (
    "id", "issued_at", "program", "as_of", "policy_version", "subject_kind", "subject_ref",
    "id_number_masked", "eligible", "review", "reasons", "grade", "effective_stars",
    "key_id", "payload_sha256",
)  # fmt: skip


class InstitutionSubject(msgspec.Struct, tag_field="kind", tag="institution"):
    uscc: str


class PractitionerSubject(msgspec.Struct, tag_field="kind", tag="practitioner"):
    """A person, never by the ID number: its keyed hash (what the registry looks it up
    by) and its masked form (what a subsidy office can compare with its file)."""

    id_number_hash: str
    id_number_masked: str


class DecisionPayload(msgspec.Struct):
    """What a decision's JWS says, in this order, as JSON."""

    type: str
    decision_id: str
    subject: InstitutionSubject | PractitionerSubject
    program: str
    as_of: str  # YYYY-MM-DD
    policy_version: str
    eligible: bool
    review: bool
    reasons: tuple[str, ...]
    grade: str
    effective_stars: int | None
    issued_at: str  # UTC, ISO 8601 with a Z
    kid: str


_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class SignedDecision:
    decision_id: str
    jws: str


def decision_ids(count: int, moment: datetime) -> list[str]:
    """UUIDv7s (RFC 9562): the issuing millisecond first, so one request's rows land
    together in the primary key's index, then 74 random bits each."""
    stamp = f"{int(moment.timestamp() * 1000) & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    hexes = os.urandom(10 * count).hex()
    variants = "89ab89ab89ab89ab"  # the variant bits 10, then two random bits
    return [
        f"{head}{r[:3]}-{variants[int(r[18], 16)]}{r[3:6]}-{r[6:18]}"
        for r in (hexes[i : i + 20] for i in range(0, 20 * count, 20))
    ]


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def sign_and_keep(
    session: AsyncSession, ctx: CommandContext, result: Eligibility, ring: KeyRing
) -> list[SignedDecision | None]:
    """Sign every ``ok`` answer's decision and store them all, committed before this
    returns; per answer, in order, its signed decision (None for an answer without one)."""
    issued = ctx.now()
    issued_text = utc_text(issued)
    kid = ring.kid
    program = result.program.code
    as_of = result.moment.as_of
    as_of_text = as_of.isoformat()
    version = result.policy.version
    answered = [
        index
        for index, answer in enumerate(result.answers)
        if answer.status == "ok" and answer.decision is not None
    ]
    ids = decision_ids(len(answered), issued)
    bodies: list[bytes] = []
    rows: list[tuple[Any, ...]] = []
    for decision_id, index in zip(ids, answered, strict=True):
        answer = result.answers[index]
        decision, code, grade = answer.decision, answer.code, answer.grade
        if decision is None or code is None or grade is None:
            raise AssertionError(f"answer {index} is ok but incomplete")
        stars = answer.stars.effective if answer.stars is not None else None
        masked = answer.id_number_masked
        subject: InstitutionSubject | PractitionerSubject = (
            InstitutionSubject(code)
            if answer.subject_kind == "institution"
            else PractitionerSubject(code, masked or "")
        )
        body = _encode(
            DecisionPayload(
                DECISION_TYPE, decision_id, subject, program, as_of_text, version,
                decision.eligible, decision.review, decision.reasons, grade, stars,
                issued_text, kid,
            )
        )  # fmt: skip
        bodies.append(body)
        rows.append(
            (
                decision_id, issued, program, as_of, version, answer.subject_kind, code,
                masked, decision.eligible, decision.review, decision.reasons, grade,
                stars, kid, hashlib.sha256(body).hexdigest(),
            )
        )  # fmt: skip
    signer = Signer(ring, JWS_TYPE)
    # The COPY is sent while the threads sign: both are done before anything is answered.
    stored = asyncio.ensure_future(_store(session, rows))
    try:
        signatures = await _sign_all(signer, bodies)
    finally:
        await stored
    signed: list[SignedDecision | None] = [None] * len(result.answers)
    for decision_id, index, jws in zip(ids, answered, signatures, strict=True):
        signed[index] = SignedDecision(decision_id, jws)
    return signed


async def _sign_all(signer: Signer, bodies: list[bytes]) -> list[str]:
    if len(bodies) < THREADED_FROM:
        return [signer.sign_encoded(body) for body in bodies]
    size = -(-len(bodies) // SIGNING_THREADS)
    chunks = [bodies[start : start + size] for start in range(0, len(bodies), size)]

    def sign(chunk: list[bytes]) -> list[str]:
        return [signer.sign_encoded(body) for body in chunk]

    parts = await asyncio.gather(*(anyio.to_thread.run_sync(sign, chunk) for chunk in chunks))
    return [jws for part in parts for jws in part]


async def _store(session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
    """All rows in one COPY, in a transaction of its own on the session's (primary)
    connection, committed when this returns."""
    if not rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.transaction():
        await driver.copy_records_to_table(
            EligibilityDecision.__tablename__, records=rows, columns=COLUMNS
        )


@dataclass(frozen=True, slots=True)
class StoredDecision:
    id: uuid.UUID
    issued_at: datetime
    program: str
    as_of: date
    policy_version: str
    subject_kind: str
    subject_ref: str
    id_number_masked: str | None
    eligible: bool
    review: bool
    reasons: tuple[str, ...]
    grade: str
    effective_stars: int | None
    key_id: str
    payload_sha256: str


def decision_id_of(text: str) -> uuid.UUID:
    """A decision id from a URL; a malformed one is the caller's error, by name."""
    try:
        if len(text) > 45:
            raise ValueError(text)
        return uuid.UUID(text)
    except ValueError:
        raise Invalid.field(
            "decision_id", "must be a decision id (a UUID such as 01890a5d-ac96-774b-bcce-…)"
        ) from None


async def stored_decision(
    session: AsyncSession, ctx: CommandContext, decision_id: str
) -> StoredDecision:
    ctx.actor.require_role(*CALLERS)
    found = await session.get(EligibilityDecision, decision_id_of(decision_id))
    if found is None:
        raise NotFound(f"no eligibility decision {decision_id}")
    return StoredDecision(
        found.id, found.issued_at, found.program, found.as_of, found.policy_version,
        found.subject_kind, found.subject_ref, found.id_number_masked, found.eligible,
        found.review, tuple(found.reasons), found.grade, found.effective_stars,
        found.key_id, found.payload_sha256,
    )  # fmt: skip


def verify_decision(compact: str, keys: VerifyingKeys) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (header, payload) of a signed eligibility decision one of ``keys`` signed;
    ``InvalidJWS`` for anything else (another kind of JWS included)."""
    header, payload = verify(compact, keys)
    if payload.get("type") != DECISION_TYPE:
        raise InvalidJWS(f"not an eligibility decision (type {payload.get('type')!r})")
    return header, payload
