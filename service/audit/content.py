"""Edits below the service leave a trace (issue 15 §2, decision 0035).

Every protected row's content (the columns that carry an identity or a decision, listed
once in ``PROTECTED``) is hashed into the audit chain by the write that made it: a
trigger on each protected table queues one row into ``audit_queue`` per insert, delete
or update of a protected column, in the writer's transaction. A write from the service
(its connections carry ``credit.origin = service``, ``service.db.engine``) is queued as
``content.insert|update|delete``; any other as ``outside_service.…``, with the database
role that made it, so a plain-SQL rename or revocation is in the chain even when nobody
looks. The triggers are ``ENABLE ALWAYS``: ``session_replication_role = replica`` does
not silence them; only ``ALTER TABLE … DISABLE TRIGGER`` does, and that is what
``content_check`` catches: it recomputes every protected row's hash and names each one
whose content is not what its last audited write left.

The hash is one SQL function, ``audit_content_hash(columns, row)``: the hex SHA-256 of
the jsonb object of just the protected columns (jsonb's text form is canonical: keys
sorted, no insignificant spaces), with timestamps rendered in UTC whatever the session's
time zone. The migration (0013) creates the functions and triggers from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.engine import ORIGIN_SETTING, SERVICE_ORIGIN

__all__ = ["ORIGIN_SETTING", "SERVICE_ORIGIN"]  # the service's mark, for the migration


@dataclass(frozen=True, slots=True)
class Protected:
    """A protected table: the audit rows' target type and the columns its hash covers."""

    target_type: str
    columns: tuple[str, ...]


# The one list of what is protected: identity and decision-bearing columns, not
# bookkeeping (versions, updated_at, counters, credentials, sign-in state). Changing it
# needs a migration that recreates the triggers (``create_triggers_sql``) and a baseline.
PROTECTED: Mapping[str, Protected] = {
    "records": Protected(
        "record",
        ("kind", "status", "chain_id", "supersedes_id", "correction_reason", "institution_id",
         "practitioner_id", "region_code", "occurred_on", "document_no", "legal_basis",
         "details", "recorded_by", "confirmed_at", "confirmed_by", "superseded_at",
         "revoked_at", "revoked_by", "revocation_reason", "revocation_document_no"),
    ),
    "deficiencies": Protected(
        "deficiency",
        ("record_id", "position", "item", "code", "severity", "scope",
         "rectification_deadline", "rectified_on", "rectification_recorded_at",
         "rectification_recorded_by", "rectification_note"),
    ),
    "list_entries": Protected(
        "list_entry",
        ("list_type", "subject_kind", "subject_id", "region_code", "status", "reason_code",
         "basis", "trigger_record_id", "proposed_by", "proposed_at", "notified_at",
         "objection_deadline", "deadline_by_fallback", "decided_by", "decided_at",
         "publish_by", "effective_from", "effective_to", "published_at", "ended_at",
         "end_reason"),
    ),
    "list_transitions": Protected(
        "list_transition",
        ("entry_id", "seq", "action", "from_status", "to_status", "actor_id", "actor_role",
         "occurred_at", "rule", "basis_document", "comment"),
    ),
    "institutions": Protected("institution", ("name", "uscc", "region_code", "kind", "status")),
    "practitioners": Protected(
        "practitioner", ("name", "id_number_hash", "region_code", "status")
    ),
    "users": Protected("user", ("role", "region_code", "active", "login")),
}  # fmt: skip

# Actions of the rows the triggers queue (and of a baseline): a write through the
# service, and one made any other way.
CONTENT = "content."
OUTSIDE_SERVICE = "outside_service."
BASELINE = CONTENT + "baseline"
# The same condition as the partial index on audit_log (migration 0013), so that the
# lookup of a target's latest content row can use it.
CONTENT_ROWS = f"(action LIKE '{CONTENT}%' OR action LIKE '{OUTSIDE_SERVICE}%')"

TRIGGER = "audit_content"  # the trigger's name on every protected table
INDEX = "ix_audit_log_content"


def row_hash_sql(table: str, alias: str = "t") -> str:
    """The SQL expression of the content hash of the row ``alias`` of a protected table."""
    names = ", ".join(f"'{name}'" for name in PROTECTED[table].columns)
    return f"audit_content_hash_of(ARRAY[{names}]::text[], {alias})"


# -- DDL, run by migration 0013 ---------------------------------------------------------

HASH_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION audit_content_hash(columns text[], content jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(COALESCE(
        (SELECT jsonb_object_agg(name, COALESCE(content -> name, 'null'::jsonb))
           FROM unnest(columns) AS name),
        '{}'::jsonb)::text, 'UTF8')), 'hex')
$$
"""

# A table row's hash, its timestamps rendered in UTC (to_jsonb writes them in the
# session's time zone): what verify and the baseline compute.
ROW_HASH_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION audit_content_hash_of(columns text[], content anyelement)
RETURNS text LANGUAGE sql STABLE SET TimeZone = 'UTC' AS $$
    SELECT audit_content_hash(columns, to_jsonb(content))
$$
"""

TRIGGER_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION audit_protected_row() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    columns text[] := TG_ARGV[1:];
    before_hash text;
    after_hash text;
    by_service boolean := current_setting('{ORIGIN_SETTING}', true) = '{SERVICE_ORIGIN}';
    target text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        before_hash := audit_content_hash(columns, to_jsonb(OLD));
        target := OLD.id::text;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after_hash := audit_content_hash(columns, to_jsonb(NEW));
        target := NEW.id::text;
    END IF;
    IF TG_OP = 'UPDATE' AND before_hash = after_hash THEN
        RETURN NULL;  -- no protected column changed
    END IF;
    INSERT INTO audit_queue (occurred_at, actor_id, actor_role, action, target_type,
                             target_id, before_digest, after_digest, request_id)
    VALUES (
        now(), NULL,
        CASE WHEN by_service THEN 'service' ELSE left(current_user::text, 20) END,
        CASE WHEN by_service THEN '{CONTENT}' ELSE '{OUTSIDE_SERVICE}' END || lower(TG_OP),
        TG_ARGV[0], target, before_hash, after_hash,
        CASE WHEN session_user <> current_user
             THEN left('db:' || session_user::text, 64) END
    );
    RETURN NULL;
END $$
"""


def create_triggers_sql() -> list[str]:
    """The trigger on each protected table, enabled ALWAYS (replication mode too)."""
    statements = []
    for table, protected in PROTECTED.items():
        arguments = ", ".join(f"'{name}'" for name in (protected.target_type, *protected.columns))
        statements += [
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_protected_row({arguments})",
            f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {TRIGGER}",
        ]
    return statements


def drop_triggers_sql() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}" for table in PROTECTED]


# -- comparing the tables with the chain ------------------------------------------------


def _audited(table: str, source: str) -> str:
    """The latest content row of each target of the table in audit_log or audit_queue."""
    return (
        f"SELECT DISTINCT ON (target_id) target_id, after_digest FROM {source} "
        f"WHERE target_type = '{PROTECTED[table].target_type}' AND {CONTENT_ROWS} "
        "ORDER BY target_id DESC, id DESC"  # the index read backwards
    )


def _comparison(table: str) -> str:
    """Each row whose present hash is not its latest audited write's, with both hashes.

    A row still waiting in the queue is newer than any sealed row of the same target
    (writes of one row are serialised by its lock, and sealed in queue order), and one
    statement sees the queue and the chain as of one moment, so a seal running meanwhile
    neither hides a row nor shows it twice."""
    return f"""
        WITH sealed AS ({_audited(table, "audit_log")}),
        waiting AS ({_audited(table, "audit_queue")}),
        audited AS (
            SELECT target_id,
                   CASE WHEN w.target_id IS NOT NULL THEN w.after_digest
                        ELSE s.after_digest END AS digest
            FROM sealed s FULL JOIN waiting w USING (target_id)
        ),
        present AS (
            SELECT t.id::text AS target_id, {row_hash_sql(table)} AS digest
            FROM {table} t
        )
        SELECT target_id, p.digest AS present, a.digest AS audited
        FROM present p FULL JOIN audited a USING (target_id)
        WHERE p.digest IS DISTINCT FROM a.digest
        ORDER BY target_id
    """


CHANGED = "content differs from its last audited write"
# ALTER TABLE … ENABLE TRIGGER (USER) after a DISABLE leaves the trigger enabled only
# outside replication mode: it must be ENABLE ALWAYS again.
NOT_ALWAYS = (
    f"its {TRIGGER} trigger is not ENABLE ALWAYS: replication-mode writes go unrecorded "
    f"(ALTER TABLE … ENABLE ALWAYS TRIGGER {TRIGGER})"
)
MISSING = f"its {TRIGGER} trigger is missing or disabled: writes go unrecorded"
UNAUDITED = "no audited write made this row"
GONE = "gone, but its last audited write left it in place"


@dataclass(frozen=True, slots=True)
class Mismatch:
    table: str
    target_id: str | None  # None: the table's trigger, not a row
    problem: str  # CHANGED, UNAUDITED, GONE, or NOT_ALWAYS or MISSING for the trigger


@dataclass(frozen=True, slots=True)
class OutsideWrite:
    audit_id: int
    occurred_at: datetime
    actor_role: str
    action: str
    target_type: str
    target_id: str


@dataclass(frozen=True, slots=True)
class ContentReport:
    rows_checked: int
    mismatches: list[Mismatch] = field(default_factory=list)
    outside_service_count: int = 0
    latest_outside_service: list[OutsideWrite] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches


def _problem(present: str | None, audited: str | None) -> str:
    if present is None:
        return GONE
    if audited is None:
        return UNAUDITED  # never audited, or its last audited write deleted it
    return CHANGED


async def content_check(connection: AsyncConnection, *, latest: int = 5) -> ContentReport:
    """Compare every protected row with its last audited write, and count the writes
    made outside the service. Seal first (``chain.seal``) to check against the chain."""
    mismatches = await _trigger_problems(connection)
    checked = 0
    for table in PROTECTED:
        checked += int(await connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
        result = await connection.execute(sa.text(_comparison(table)))
        mismatches += [
            Mismatch(table, row.target_id, _problem(row.present, row.audited)) for row in result
        ]
    count, writes = await outside_writes(connection, latest)
    return ContentReport(
        rows_checked=checked,
        mismatches=mismatches,
        outside_service_count=count,
        latest_outside_service=writes,
    )


async def outside_writes(
    connection: AsyncConnection, latest: int = 5
) -> tuple[int, list[OutsideWrite]]:
    """How many writes made outside the service the chain holds, and the latest of them:
    what the admins' audit page shows without anyone running a verification."""
    outside = f"FROM audit_log WHERE action LIKE '{OUTSIDE_SERVICE}%'"
    count = int(await connection.scalar(sa.text(f"SELECT count(*) {outside}")) or 0)
    rows = await connection.execute(
        sa.text(
            "SELECT id, occurred_at, actor_role, action, target_type, target_id "
            f"{outside} ORDER BY id DESC LIMIT :latest"
        ),
        {"latest": latest},
    )
    return count, [OutsideWrite(*row) for row in rows]


async def _trigger_problems(connection: AsyncConnection) -> list[Mismatch]:
    """Each protected table whose audit trigger is not there, enabled ALWAYS."""
    result = await connection.execute(
        sa.text(
            "SELECT c.relname, t.tgenabled::text AS tgenabled FROM pg_class c "
            "LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = :trigger "
            "WHERE c.relname = ANY(:tables) AND c.relkind = 'r' "
            "AND pg_table_is_visible(c.oid)"
        ),
        {"trigger": TRIGGER, "tables": list(PROTECTED)},
    )
    states = {row.relname: row.tgenabled for row in result}
    problems = []
    for table in PROTECTED:
        state = states.get(table)
        if state == "A":
            continue
        problems.append(Mismatch(table, None, NOT_ALWAYS if state in ("O", "R") else MISSING))
    return problems


def _baseline(table: str) -> sa.TextClause:
    """Queue a baseline row for each row of the table (or target gone from it) whose
    present content is not what its latest audited write says."""
    return sa.text(f"""
        WITH compared AS ({_comparison(table)})
        INSERT INTO audit_queue (occurred_at, actor_id, actor_role, action, target_type,
                                 target_id, before_digest, after_digest, request_id)
        SELECT now(), :actor_id, :actor_role, '{BASELINE}', '{PROTECTED[table].target_type}',
               target_id, audited, present, :request_id
        FROM compared
        ORDER BY target_id
    """).bindparams(
        sa.bindparam("actor_id", type_=sa.Uuid()),
        sa.bindparam("actor_role", type_=sa.String()),
        sa.bindparam("request_id", type_=sa.String()),
    )


@dataclass(frozen=True, slots=True)
class Vouching:
    """Who records a baseline, as its audit rows will say."""

    actor_role: str
    actor_id: object | None = None
    request_id: str | None = None

    def parameters(self) -> dict[str, object]:
        return {
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "request_id": self.request_id,
        }


def record_baseline_sync(connection: Connection, by: Vouching) -> dict[str, int]:
    """``record_baseline`` on a synchronous connection (the migration's)."""
    return {
        table: connection.execute(_baseline(table), by.parameters()).rowcount for table in PROTECTED
    }


async def record_baseline(connection: AsyncConnection, by: Vouching) -> dict[str, int]:
    """Vouch for the present content: queue a ``content.baseline`` row for every
    protected row whose content has no matching latest audited write (and one with no
    digest for every audited row that is gone), in the caller's transaction. For an
    upgraded database, and after a bulk load made outside the service."""
    counts = {}
    for table in PROTECTED:
        result = await connection.execute(_baseline(table), by.parameters())
        counts[table] = result.rowcount
    return counts
