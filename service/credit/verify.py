"""One scoring truth, checked on a real database: sampled subjects scored by the engine
and by the SQL evaluator, and compared with what is stored (``recompute --verify N``).

The parity test holds the two sides to one answer over random policies and facts; this
holds them to it over the facts a province really has. Where the policy's contributions
are built (decision 0033) the SQL side sums them, so this checks what record events
kept there too. A stored score is compared only
while it claims to be current (stored under the policy used, not yet at its
``next_change_on``): a stale one is refreshed on read and by the nightly recompute, but a
current one that differs was written wrong or changed by hand, and is worth reporting.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import SubjectKey, score_subjects
from service.credit.scoring import assess_subjects
from service.policy.document import Policy
from service.policy.store import policy_in_force, policy_version

STORED_PLACES = Decimal("0.01")  # credit_scores.score is numeric(8,2)
CHUNK = 1_000  # subjects read and scored at a time


@dataclass(frozen=True, slots=True)
class Outcome:
    score: Decimal
    grade: str
    next_change_on: date | None

    def __str__(self) -> str:
        until = self.next_change_on.isoformat() if self.next_change_on else "no change due"
        # Two places as scores are shown, more only where the score has them.
        exponent = self.score.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < -2 else 2
        return f"{self.score:.{places}f} {self.grade} ({until})"


@dataclass(frozen=True, slots=True)
class Difference:
    subject_kind: str
    subject_id: uuid.UUID
    engine: Outcome
    sql: Outcome | None  # None: the SQL evaluator gave no row for the subject
    stored: Outcome | None  # the stored score, when it is current and differs

    def __str__(self) -> str:
        sql = str(self.sql) if self.sql else "no row"
        line = f"{self.subject_kind} {self.subject_id}: engine {self.engine}, SQL {sql}"
        return line + (f", stored {self.stored}" if self.stored else "")


@dataclass(frozen=True, slots=True)
class Verification:
    policy_version: str
    as_of: date
    sampled: int
    stored_compared: int  # the sampled subjects whose stored score is current
    differences: list[Difference]


def differences(
    keys: Sequence[SubjectKey],
    by_engine: Mapping[SubjectKey, Outcome],
    by_sql: Mapping[SubjectKey, Outcome],
    stored: Mapping[SubjectKey, Outcome],
) -> list[Difference]:
    """Each subject whose SQL answer, or current stored score, is not the engine's."""
    found = []
    for kind, subject_id in keys:
        engine, sql = by_engine[(kind, subject_id)], by_sql.get((kind, subject_id))
        kept = stored.get((kind, subject_id))
        # Stored rounded to its column, as PostgreSQL rounds (half away from zero).
        expected_kept = Outcome(
            engine.score.quantize(STORED_PLACES, ROUND_HALF_UP),
            engine.grade,
            engine.next_change_on,
        )
        stored_differs = kept is not None and kept != expected_kept
        if sql != engine or stored_differs:
            found.append(
                Difference(kind, subject_id, engine, sql, kept if stored_differs else None)
            )
    return found


async def sample_subjects(session: AsyncSession, size: int, region: str | None) -> list[SubjectKey]:
    where = "WHERE region_code LIKE :region" if region else ""
    rows = await session.execute(
        sa.text(
            f"SELECT subject_kind, subject_id FROM ("
            f" SELECT 'institution' AS subject_kind, id AS subject_id FROM institutions {where}"
            f" UNION ALL SELECT 'practitioner', id FROM practitioners {where}"
            f") AS subjects ORDER BY random() LIMIT :size"
        ),
        {"size": size, **({"region": f"{region}%"} if region else {})},
    )
    return [(kind, subject_id) for kind, subject_id in rows]


async def _current_stored(
    session: AsyncSession, keys: Sequence[SubjectKey], policy: Policy, as_of: date
) -> dict[SubjectKey, Outcome]:
    """The stored scores of ``keys`` that are current under ``policy`` on ``as_of``."""
    rows = await session.execute(
        sa.text(
            "SELECT cs.subject_kind, cs.subject_id, cs.score, cs.grade, cs.next_change_on"
            " FROM credit_scores cs"
            " JOIN unnest(CAST(:kinds AS text[]), CAST(:ids AS uuid[])) AS k(kind, id)"
            "   ON cs.subject_kind = k.kind AND cs.subject_id = k.id"
            " WHERE cs.policy_version = :version"
            "   AND (cs.next_change_on IS NULL OR cs.next_change_on > :as_of)"
        ),
        {
            "kinds": [kind for kind, _ in keys],
            "ids": [subject_id for _, subject_id in keys],
            "version": policy.version,
            "as_of": as_of,
        },
    )
    return {(kind, subject_id): Outcome(*rest) for kind, subject_id, *rest in rows}


async def _compare(
    session: AsyncSession, keys: Sequence[SubjectKey], policy: Policy, moment: Moment
) -> tuple[int, list[Difference]]:
    """Some subjects scored both ways and compared: (current stored scores, differences)."""
    by_engine = {
        key: Outcome(assessment.score, assessment.grade, assessment.next_change_on)
        for key, assessment in (await assess_subjects(session, policy, moment, keys)).items()
    }
    by_sql = {
        (s.subject_kind, s.subject_id): Outcome(s.score, s.grade, s.next_change_on)
        for s in await score_subjects(session, policy, moment, keys=keys)
    }
    stored = await _current_stored(session, keys, policy, moment.as_of)
    return len(stored), differences(keys, by_engine, by_sql, stored)


async def verify_scores(
    engine: AsyncEngine,
    ctx: CommandContext,
    *,
    size: int,
    version: str | None = None,
    region: str | None = None,
) -> Verification:
    """Score ``size`` sampled subjects (of a region) as of today both ways, and compare
    the two with each other and with their current stored scores. Changes nothing."""
    moment = ctx.moment()
    found: list[Difference] = []
    compared = 0
    async with engine.connect() as connection:
        # One snapshot: both sides and the stored scores read the same rows.
        await connection.execution_options(isolation_level="REPEATABLE READ")
        session = AsyncSession(bind=connection)
        async with session.begin():
            if version is None:
                policy = await policy_in_force(session, moment.as_of, moment.known_at)
            else:
                policy = await policy_version(session, version)
            keys = await sample_subjects(session, size, region)
            for start in range(0, len(keys), CHUNK):
                stored, differing = await _compare(
                    session, keys[start : start + CHUNK], policy, moment
                )
                compared += stored
                found += differing
    return Verification(policy.version, moment.as_of, len(keys), compared, found)
