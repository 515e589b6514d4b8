"""The credit model as one SQL statement, for many subjects at once.

``service.credit.engine`` is the reference: pure, explained, property-tested. This
module compiles the same policy into SQL so PostgreSQL scores a hundred thousand
subjects in one pass (a recompute, a bulk eligibility request for a past date, a
what-if over a draft policy); a record event's few subjects are the engine's (decision
0024). A parity test runs both over random policies and random facts and requires equal
scores, grades and next-change dates, and ``recompute --verify`` compares both on a real
database; change one, change the other.

Two sources feed the same sums: the records themselves, or, for an installed policy
whose set is built, each record's parts kept in ``credit_contributions`` (decision
0033), which the recompute and a batch of subjects read instead of re-deriving them.

Every value from the policy travels as a bind parameter, never as SQL text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.clock import Moment
from service.facts.details import DETAILS_OF_KIND
from service.facts.kinds import DeficiencyScope, DeficiencySeverity, RecordKind
from service.policy.document import Policy
from service.policy.models import PolicyVersion
from service.policy.store import parsed

SubjectKey = tuple[str, uuid.UUID]
# How every statement of ``scoring_sql`` begins: a log or a test can tell it apart.
SCORING_SQL = "/* credit scoring */"


@dataclass(frozen=True, slots=True)
class Scored:
    subject_kind: str
    subject_id: uuid.UUID
    region_code: str
    score: Decimal
    grade: str
    next_change_on: date | None


class _Params:
    """Bind parameters with generated names, so policy values never become SQL text."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any, cast: str | None = None) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"


def _grid(policy: Policy, bind: _Params) -> str:
    rows = []
    for severity in DeficiencySeverity:
        months = policy.decay.months(policy.inspection.class_of(severity))
        for scope in DeficiencyScope:
            points = policy.inspection.points_for(severity, scope)
            rows.append(
                f"({bind(severity.value, 'text')}, {bind(scope.value, 'text')}, "
                f"{bind(points, 'numeric')}, {bind(months, 'int')})"
            )
    return ", ".join(rows)


_ARRAY_TYPES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.TupleType,
)


def _holds_array(declared: msgspec.inspect.Type) -> bool:
    """Whether a field declared so may be stored as a JSON array (optional or constrained too)."""
    while isinstance(declared, msgspec.inspect.Metadata):
        declared = declared.type
    if isinstance(declared, msgspec.inspect.UnionType):
        return any(_holds_array(member) for member in declared.types)
    return isinstance(declared, _ARRAY_TYPES)


@cache
def array_fields(details: type[msgspec.Struct]) -> frozenset[str]:
    """Detail fields whose declared type is an array (penalty_kinds): a rule matches
    them by any element, like the engine; the rest are compared as scalars."""
    declared = msgspec.inspect.type_info(details)
    assert isinstance(declared, msgspec.inspect.StructType)
    return frozenset(field.name for field in declared.fields if _holds_array(field.type))


def _rule_condition(rule_kind: RecordKind, when: dict[str, list[str]], bind: _Params) -> str:
    parts = [f"r.kind = {bind(rule_kind.value, 'text')}"]
    lists = array_fields(DETAILS_OF_KIND[rule_kind])
    for field, allowed in when.items():
        values = bind(allowed, "text[]")
        if field in lists:  # matches if any element is allowed
            parts.append(f"jsonb_exists_any(r.details -> {bind(field, 'text')}, {values})")
        else:
            parts.append(f"(r.details ->> {bind(field, 'text')}) = ANY({values})")
    return " AND ".join(parts)


def _rules(policy: Policy, bind: _Params) -> tuple[str, str]:
    """The CASE that picks each record's first matching rule, and the rules' values."""
    if not policy.rules:
        return "NULL::int", "(NULL::int, NULL::numeric, NULL::int, NULL::text)"
    cases, values = [], []
    for index, rule in enumerate(policy.rules):
        cases.append(f"WHEN {_rule_condition(rule.kind, rule.when, bind)} THEN {index}")
        months = policy.decay.months(rule.fact_class)
        values.append(
            f"({index}, {bind(rule.points, 'numeric')}, {bind(months, 'int')}, "
            f"{bind(rule.grade_cap, 'text')})"
        )
    return "CASE " + " ".join(cases) + " END", ", ".join(values)


def _with_regions(keyed: str, columns: str = "") -> str:
    """The rows of ``keyed`` (aliased k, keyed by subject) with each subject's region;
    a subject that is not registered is left out."""
    return f"""
        SELECT k.subject_kind, k.subject_id, COALESCE(i.region_code, p.region_code) AS region_code
            {columns}
        FROM {keyed}
        LEFT JOIN institutions i ON k.subject_kind = 'institution' AND i.id = k.subject_id
        LEFT JOIN practitioners p ON k.subject_kind = 'practitioner' AND p.id = k.subject_id
        WHERE COALESCE(i.region_code, p.region_code) IS NOT NULL"""


def _subjects_sql(bind: _Params, keys: Sequence[SubjectKey] | None, region: str | None) -> str:
    """The subjects scored, each once with its region: the given keys that are
    registered (looked up by primary key: ten thousand cost no scan), a region's, or
    everyone."""
    selects = []
    for kind, _, table in _SUBJECT_COLUMNS:
        if keys is not None:
            chosen = _chosen(bind, keys, None, kind, "id", table)
            if chosen is None:
                continue
            where = f"WHERE {chosen}"
        else:
            where = f"WHERE region_code LIKE {bind(region + '%', 'text')}" if region else ""
        selects.append(
            f"SELECT '{kind}' AS subject_kind, id AS subject_id, region_code FROM {table} {where}"
        )
    if not selects:
        selects.append("SELECT NULL::text, NULL::uuid, NULL::text WHERE false")
    return " UNION ALL ".join(selects)


_SUBJECT_COLUMNS = (
    ("institution", "institution_id", "institutions"),
    ("practitioner", "practitioner_id", "practitioners"),
)


def _chosen(
    bind: _Params,
    keys: Sequence[SubjectKey] | None,
    region: str | None,
    kind: str,
    column: str,
    table: str,
) -> str | None:
    """The predicate on ``column`` that keeps the subjects of ``kind`` scored (the given
    keys, a region's, or everyone); None when no subject of that kind is."""
    if keys is not None:
        ids = [subject_id for key_kind, subject_id in keys if key_kind == kind]
        return f"{column} = ANY({bind(ids, 'uuid[]')})" if ids else None
    if region:
        return (
            f"{column} IN (SELECT id FROM {table}"
            f" WHERE region_code LIKE {bind(region + '%', 'text')})"
        )
    return f"{column} IS NOT NULL"


def _named_records(
    bind: _Params,
    keys: Sequence[SubjectKey] | None,
    region: str | None,
    known: str,
    kind_filter: str,
    columns: str,
) -> str:
    """Each known record once per subject it names, restricted to the subjects scored.

    Written as plain predicates (a few ids, a region's subjects, or none) so the planner
    can pick index lookups for a handful of subjects and sequential scans for millions.
    """
    selects = []
    for kind, column, table in _SUBJECT_COLUMNS:
        chosen = _chosen(bind, keys, region, kind, f"r.{column}", table)
        if chosen is None:
            continue
        selects.append(
            f"SELECT '{kind}' AS subject_kind, r.{column} AS subject_id, {columns}"
            f" FROM records r WHERE {chosen} AND {kind_filter} AND {known}"
        )
    if not selects:  # no subject of either kind: an empty set of the right shape
        selects.append(
            f"SELECT NULL::text AS subject_kind, NULL::uuid AS subject_id, {columns}"
            " FROM records r WHERE false"
        )
    return " UNION ALL ".join(selects)


def _counted_contributions(
    bind: _Params, policy: Policy, chosen: str, as_of: str, known_at: str
) -> str:
    """The parts (subject, points, stops_on, grade_cap) that count at the moment, read
    from ``credit_contributions`` (decision 0033) for the rows ``chosen`` keeps: the
    same rows, points and windows ``_derived_parts`` derives from the records."""
    return f"""
        SELECT c.subject_kind, c.subject_id,
            CASE WHEN c.rectified_on <= {as_of} AND c.rectified_known_at <= {known_at}
                THEN c.rectified_points ELSE c.points END AS points,
            c.stops_on, c.grade_cap
        FROM credit_contributions c
        WHERE c.policy_version = {bind(policy.version, "text")} AND {chosen}
            AND c.stops_on > {as_of} AND c.occurred_on <= {as_of}
            AND c.known_from <= {known_at}
            AND (c.known_until IS NULL OR c.known_until > {known_at})"""


def _summed_parts(
    bind: _Params, policy: Policy, region: str | None, as_of: str, known_at: str
) -> str:
    """Everyone's (or a region's) counted contributions: one scan of the table, both
    kinds of subject at once."""
    chosen = "true"
    if region:
        chosen = " OR ".join(
            f"(c.subject_kind = '{kind}' AND {_chosen(bind, None, region, kind, 'c.subject_id', table)})"
            for kind, _, table in _SUBJECT_COLUMNS
        )
    return _counted_contributions(bind, policy, f"({chosen})", as_of, known_at)


def _rectified_factor(in_time: str, late: str) -> str:
    """The factor a rectified deficiency's points are multiplied by: in time or late."""
    return f"""CASE WHEN d.rectification_deadline IS NULL
                        OR d.rectified_on <= d.rectification_deadline
                    THEN {in_time} ELSE {late} END"""


def _deficiencies_graded(policy: Policy, bind: _Params) -> str:
    """Each inspection ``f``'s deficiencies ``d`` with their points and window ``g``."""
    return f"""JOIN deficiencies d ON d.record_id = f.id
        JOIN (VALUES {_grid(policy, bind)}) AS g(severity, scope, points, months)
            ON g.severity = d.severity AND g.scope = d.scope"""


def contributions_sql(
    policy: Policy, record_ids: Sequence[uuid.UUID] | None = None
) -> tuple[str, dict[str, Any]]:
    """SELECT (and its parameters) of the ``credit_contributions`` rows of every
    confirmed record, or of ``record_ids``, under ``policy``: what ``scoring_sql``
    derives at a moment, with what depends on the moment left as columns."""
    bind = _Params()
    version = bind(policy.version, "text")
    in_time = bind(policy.inspection.rectified_in_time_factor, "numeric")
    late = bind(policy.inspection.rectified_late_factor, "numeric")
    rule_case, rule_values = _rules(policy, bind)
    known = "r.status <> 'draft'"
    if record_ids is not None:
        known += f" AND r.id = ANY({bind(list(record_ids), 'uuid[]')})"
    lifecycle = "r.id, r.occurred_on, r.confirmed_at, LEAST(r.superseded_at, r.revoked_at) AS ended"
    inspection = f"r.kind = '{RecordKind.INSPECTION.value}'"
    ruled = bind(sorted({rule.kind.value for rule in policy.rules}), "text[]")
    inspections = _named_records(bind, None, None, known, inspection, lifecycle)
    others = _named_records(
        bind, None, None, known, f"r.kind = ANY({ruled})", f"{lifecycle}, {rule_case} AS rule_index"
    )
    sql = f"""
        SELECT {version} AS policy_version, f.id AS record_id, f.subject_kind,
            d.position AS part, f.subject_id, f.occurred_on,
            (f.occurred_on + make_interval(months => g.months))::date AS stops_on,
            f.confirmed_at AS known_from, f.ended AS known_until, g.points,
            CASE WHEN d.rectified_on IS NOT NULL
                THEN g.points * {_rectified_factor(in_time, late)}
                END AS rectified_points,
            d.rectified_on, d.rectification_recorded_at AS rectified_known_at,
            NULL::text AS grade_cap
        FROM ({inspections}) AS f
        {_deficiencies_graded(policy, bind)}
        UNION ALL
        SELECT {version}, m.id, m.subject_kind, 0, m.subject_id, m.occurred_on,
            (m.occurred_on + make_interval(months => rl.months))::date,
            m.confirmed_at, m.ended, rl.points, NULL, NULL, NULL, rl.grade_cap
        FROM ({others}) AS m
        JOIN (VALUES {rule_values}) AS rl(rule_index, points, months, grade_cap)
            ON rl.rule_index = m.rule_index"""
    return sql, bind.values


def _derived_parts(
    bind: _Params,
    policy: Policy,
    keys: Sequence[SubjectKey] | None,
    region: str | None,
    as_of: str,
    known_at: str,
) -> str:
    """Each part a record known at the moment plays (subject, points, stops_on,
    grade_cap), derived from the records and deficiencies under ``policy``."""
    in_time = bind(policy.inspection.rectified_in_time_factor, "numeric")
    late = bind(policy.inspection.rectified_late_factor, "numeric")
    rule_case, rule_values = _rules(policy, bind)
    # Nothing older than the longest decay window can count: skip it early.
    longest = max(policy.decay.minor, policy.decay.general, policy.decay.serious)
    known = f"""r.status <> 'draft' AND r.confirmed_at <= {known_at}
            AND (r.superseded_at IS NULL OR r.superseded_at > {known_at})
            AND (r.revoked_at IS NULL OR r.revoked_at > {known_at})
            AND r.occurred_on <= {as_of}
            AND r.occurred_on > ({as_of} - make_interval(months => {bind(longest, "int")}))::date"""
    inspection = f"r.kind = '{RecordKind.INSPECTION.value}'"
    ruled = bind(sorted({rule.kind.value for rule in policy.rules}), "text[]")
    inspections = _named_records(bind, keys, region, known, inspection, "r.id, r.occurred_on")
    others = _named_records(
        bind,
        keys,
        region,
        known,
        f"r.kind = ANY({ruled})",
        f"r.occurred_on, {rule_case} AS rule_index",
    )
    return f"""
        SELECT f.subject_kind, f.subject_id,
            g.points * CASE
                WHEN d.rectified_on IS NOT NULL AND d.rectified_on <= {as_of}
                    AND d.rectification_recorded_at <= {known_at}
                THEN {_rectified_factor(in_time, late)}
                ELSE 1 END AS points,
            (f.occurred_on + make_interval(months => g.months))::date AS stops_on,
            NULL::text AS grade_cap
        FROM ({inspections}) AS f
        {_deficiencies_graded(policy, bind)}
        UNION ALL
        SELECT m.subject_kind, m.subject_id, rl.points,
            (m.occurred_on + make_interval(months => rl.months))::date, rl.grade_cap
        FROM ({others}) AS m
        JOIN (VALUES {rule_values}) AS rl(rule_index, points, months, grade_cap)
            ON rl.rule_index = m.rule_index"""


def scoring_sql(
    policy: Policy,
    moment: Moment,
    *,
    keys: Sequence[SubjectKey] | None = None,
    region: str | None = None,
    from_contributions: bool = False,
) -> tuple[str, dict[str, Any]]:
    """SQL (and its parameters) whose rows are (subject_kind, subject_id, region_code,
    score, grade, next_change_on) for the chosen subjects (all, a region, or ``keys``).

    ``from_contributions``: sum the rows ``credit_contributions`` holds for the policy's
    version (which must be built: ``credit.contributions``) instead of deriving them
    from the records; the answer is the same (the parity test runs both)."""
    bind = _Params()
    as_of, known_at = bind(moment.as_of, "date"), bind(moment.known_at, "timestamptz")
    names = bind(policy.grade_names, "text[]")
    bands = " ".join(
        f"WHEN score >= {bind(band.min, 'numeric')} THEN {bind(band.grade, 'text')}"
        for band in policy.grades
    )
    floor, start = bind(policy.score.floor, "numeric"), bind(policy.score.start, "numeric")
    aggregates = f"""SUM(points) AS deducted,
            MAX(array_position({names}, grade_cap)) AS cap_rank,
            MIN(stops_on) FILTER (WHERE points <> 0 OR grade_cap IS NOT NULL) AS next_change_on"""
    subjects = _subjects_sql(bind, keys, region)
    if from_contributions and keys is not None:
        # A batch of subjects: each one's rows that still count, by an index range, summed
        # per subject; no pass over the rest of the table and no hash of the batch.
        counted = _counted_contributions(
            bind,
            policy,
            "c.subject_kind = s.subject_kind AND c.subject_id = s.subject_id",
            as_of,
            known_at,
        )
        scored = f"""
        SELECT s.subject_kind, s.subject_id, s.region_code, t.cap_rank, t.next_change_on,
            GREATEST({floor}, {start} - COALESCE(t.deducted, 0)) AS score
        FROM ({subjects}) AS s
        CROSS JOIN LATERAL (SELECT {aggregates} FROM ({counted}) AS p) AS t"""
    else:
        if from_contributions:
            parts = _summed_parts(bind, policy, region, as_of, known_at)
        else:
            parts = _derived_parts(bind, policy, keys, region, as_of, known_at)
        scored = f"""
        WITH parts AS ({parts}
        ),
        totals AS (
            SELECT subject_kind, subject_id, {aggregates}
            FROM parts WHERE stops_on > {as_of}
            GROUP BY subject_kind, subject_id
        )
        SELECT s.subject_kind, s.subject_id, s.region_code, t.cap_rank, t.next_change_on,
            GREATEST({floor}, {start} - COALESCE(t.deducted, 0)) AS score
        FROM ({subjects}) AS s
        LEFT JOIN totals t ON t.subject_kind = s.subject_kind AND t.subject_id = s.subject_id"""
    sql = f"""{SCORING_SQL}
    SELECT subject_kind, subject_id, region_code, score,
        ({names})[GREATEST(array_position({names}, CASE {bands} ELSE {bind(policy.grades[-1].grade, "text")} END),
                           COALESCE(cap_rank, 1))] AS grade,
        next_change_on
    FROM ({scored}
    ) AS scored"""
    return sql, bind.values


async def contributions_built(executor: AsyncSession | AsyncConnection, version: str) -> bool:
    """Whether ``credit_contributions`` holds every part under this policy version."""
    found = await executor.execute(
        sa.text("SELECT EXISTS (SELECT FROM credit_contribution_sets WHERE policy_version = :v)"),
        {"v": version},
    )
    return bool(found.scalar_one())


async def summable(session: AsyncSession, policy: Policy) -> bool:
    """Whether ``policy`` may be scored from the contributions: its version's set is
    built and it is that version as installed, not a draft (a what-if) that bears an
    installed version's name."""
    if not await contributions_built(session, policy.version):
        return False
    stored = await session.get(PolicyVersion, policy.version)
    return stored is not None and parsed(stored) == policy


async def _without_jit(session: AsyncSession) -> None:
    """JIT off for the rest of the transaction: compiling a scoring statement takes
    longer (0.02 to 0.2 s) than running it for a batch of subjects saves."""
    await session.execute(sa.text("SELECT set_config('jit', 'off', true)"))


async def score_subjects(
    session: AsyncSession,
    policy: Policy,
    moment: Moment,
    *,
    keys: Sequence[SubjectKey] | None = None,
    region: str | None = None,
) -> list[Scored]:
    """Scores without storing them (an answer for a past date, a what-if), from the
    contributions where the policy's are built, otherwise from the records."""
    if keys is not None and not keys:
        return []
    built = await summable(session, policy)
    sql, params = scoring_sql(policy, moment, keys=keys, region=region, from_contributions=built)
    await _without_jit(session)
    rows = await session.execute(sa.text(sql), params)
    return [Scored(*row) for row in rows]


_CHANGED_ONLY = """
    SELECT c.* FROM ({source}) AS c
    LEFT JOIN credit_scores cs
        ON cs.subject_kind = c.subject_kind AND cs.subject_id = c.subject_id
    WHERE (cs.region_code, cs.score, cs.grade, cs.policy_version, cs.next_change_on)
        IS DISTINCT FROM (c.region_code, c.score, c.grade, :store_version, c.next_change_on)"""


def _store_sql(source: str) -> str:
    """Upsert the rows of ``source`` that differ from what is stored, logging each."""
    return f"""
    WITH computed AS ({_CHANGED_ONLY.format(source=source)}),
    changed AS (
        INSERT INTO credit_scores AS cs (subject_kind, subject_id, region_code, score, grade,
            policy_version, as_of, next_change_on, computed_at)
        SELECT subject_kind, subject_id, region_code, score, grade,
            :store_version, :store_as_of, next_change_on, :store_at
        FROM computed
        ON CONFLICT (subject_kind, subject_id) DO UPDATE SET
            region_code = EXCLUDED.region_code, score = EXCLUDED.score, grade = EXCLUDED.grade,
            policy_version = EXCLUDED.policy_version, as_of = EXCLUDED.as_of,
            next_change_on = EXCLUDED.next_change_on, computed_at = EXCLUDED.computed_at
        RETURNING subject_kind, subject_id, score, grade, policy_version, as_of, computed_at
    ),
    logged AS (
        INSERT INTO credit_score_history (subject_kind, subject_id, score, grade,
            policy_version, as_of, computed_at, cause)
        SELECT subject_kind, subject_id, score, grade, policy_version, as_of, computed_at,
            :store_cause
        FROM changed
        RETURNING 1
    )
    SELECT count(*) FROM logged"""


def _store_params(policy: Policy, moment: Moment, cause: str) -> dict[str, Any]:
    return {
        "store_version": policy.version,
        "store_as_of": moment.as_of,
        "store_at": moment.known_at,
        "store_cause": cause,
    }


async def store_scores(
    session: AsyncSession,
    policy: Policy,
    moment: Moment,
    cause: str,
    *,
    keys: Sequence[SubjectKey],
) -> int:
    """Score some subjects and store them in one statement; returns how many changed."""
    if not keys:
        return 0
    built = await summable(session, policy)
    sql, params = scoring_sql(policy, moment, keys=keys, from_contributions=built)
    params.update(_store_params(policy, moment, cause))
    await _without_jit(session)
    result = await session.execute(sa.text(_store_sql(sql)), params)
    return int(result.scalar_one())


async def store_assessed(
    session: AsyncSession,
    policy: Policy,
    moment: Moment,
    cause: str,
    assessed: Mapping[SubjectKey, tuple[Decimal, str, date | None]],
) -> int:
    """Store scores the engine gave (score, grade, next change by subject) as
    ``store_scores`` stores its own: changed rows only, each change logged."""
    if not assessed:
        return 0
    source = _with_regions(
        "unnest(CAST(:kinds AS text[]), CAST(:ids AS uuid[]), CAST(:scores AS numeric[]),"
        " CAST(:grades AS text[]), CAST(:changes AS date[]))"
        " AS k(subject_kind, subject_id, score, grade, next_change_on)",
        ", k.score, k.grade, k.next_change_on",
    )
    values = list(assessed.values())
    params = {
        "kinds": [kind for kind, _ in assessed],
        "ids": [subject_id for _, subject_id in assessed],
        "scores": [score for score, _, _ in values],
        "grades": [grade for _, grade, _ in values],
        "changes": [changes_on for _, _, changes_on in values],
        **_store_params(policy, moment, cause),
    }
    result = await session.execute(sa.text(_store_sql(source)), params)
    return int(result.scalar_one())


async def count_subjects(connection: AsyncConnection, region: str | None) -> int:
    where = "WHERE region_code LIKE :region" if region else ""
    result = await connection.execute(
        sa.text(
            f"SELECT (SELECT count(*) FROM institutions {where})"
            f" + (SELECT count(*) FROM practitioners {where})"
        ),
        {"region": f"{region}%"} if region else {},
    )
    return int(result.scalar_one())


async def store_all_scores(
    connection: AsyncConnection,
    policy: Policy,
    moment: Moment,
    cause: str,
    *,
    region: str | None = None,
    batch_size: int,
    progress: Callable[[int], None],
) -> tuple[int, int]:
    """Score every subject (of a region) in one pass, then store the changes batch by batch.

    One pass over the records is far cheaper than one per batch; only the subjects whose
    score changed are kept and written, in short transactions a caller can show progress
    of. Returns (subjects scored, subjects changed).
    """
    built = await summable(AsyncSession(bind=connection), policy)
    sql, params = scoring_sql(policy, moment, region=region, from_contributions=built)
    params["store_version"] = policy.version
    # CREATE TABLE AS may run the scoring in parallel; INSERT ... SELECT may not.
    await connection.execute(
        sa.text(
            f"CREATE TEMP TABLE changed_scores ON COMMIT PRESERVE ROWS AS"
            f" SELECT row_number() OVER () AS n, s.* FROM ({_CHANGED_ONLY.format(source=sql)}) AS s"
        ),
        params,
    )
    await connection.commit()
    changes = int(
        (await connection.execute(sa.text("SELECT count(*) FROM changed_scores"))).scalar_one()
    )
    subjects = await count_subjects(connection, region)
    batch_sql = _store_sql(
        "SELECT subject_kind, subject_id, region_code, score, grade, next_change_on"
        " FROM changed_scores WHERE n > :low AND n <= :high"
    )
    changed = 0
    progress(subjects - changes)  # the unchanged are done already
    for low in range(0, changes, batch_size):
        result = await connection.execute(
            sa.text(batch_sql),
            {"low": low, "high": low + batch_size, **_store_params(policy, moment, cause)},
        )
        changed += int(result.scalar_one())
        await connection.commit()
        progress(min(batch_size, changes - low))
    await connection.execute(sa.text("DROP TABLE changed_scores"))
    if changed > subjects // 10:
        # After a large bulk write the planner's idea of the table is stale: refresh it
        # before the next eligibility request plans against it.
        await connection.execute(sa.text("ANALYZE credit_scores"))
    await connection.commit()
    return subjects, changed
