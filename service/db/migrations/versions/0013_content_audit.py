"""content audit: protected rows hashed into the chain by the write that made them; writes
from outside the service recorded by trigger; a confirmed record's status moved only by
the service (decision 0035)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.audit.content import (
    CONTENT_ROWS,
    HASH_FUNCTION_SQL,
    INDEX,
    ORIGIN_SETTING,
    ROW_HASH_FUNCTION_SQL,
    SERVICE_ORIGIN,
    TRIGGER_FUNCTION_SQL,
    Vouching,
    create_triggers_sql,
    drop_triggers_sql,
    record_baseline_sync,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# records_guard as migration 0002 made it, and with the service's mark required for any
# status change of a confirmed record (everything else it refused, it still refuses).
_GUARD = """
CREATE OR REPLACE FUNCTION records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lifecycle text[] := ARRAY['status', 'version', 'updated_at', 'superseded_at',
        'revoked_at', 'revoked_by', 'revocation_reason', 'revocation_document_no'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'record % is %: only a draft can be deleted', OLD.id, OLD.status;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status NOT IN ('draft', 'confirmed') THEN
            RAISE EXCEPTION 'draft record % cannot become %', OLD.id, NEW.status;
        END IF;
        RETURN NEW;
    END IF;{service_only}
    IF NOT (OLD.status = 'confirmed' AND NEW.status IN ('superseded', 'revoked')) THEN
        RAISE EXCEPTION 'record % cannot go from % to %', OLD.id, OLD.status, NEW.status;
    END IF;
    IF (to_jsonb(NEW) - lifecycle) IS DISTINCT FROM (to_jsonb(OLD) - lifecycle) THEN
        RAISE EXCEPTION 'record % is confirmed: its content cannot change', OLD.id;
    END IF;
    RETURN NEW;
END $$
"""
_SERVICE_ONLY = f"""
    IF NEW.status IS DISTINCT FROM OLD.status
        AND current_setting('{ORIGIN_SETTING}', true) IS DISTINCT FROM '{SERVICE_ORIGIN}'
    THEN
        RAISE EXCEPTION 'record % is %: only the service may change its status',
            OLD.id, OLD.status;
    END IF;"""


def upgrade() -> None:
    op.execute(HASH_FUNCTION_SQL)
    op.execute(ROW_HASH_FUNCTION_SQL)
    op.execute(TRIGGER_FUNCTION_SQL)
    for statement in create_triggers_sql():
        op.execute(statement)
    op.execute(_GUARD.replace("{service_only}", _SERVICE_ONLY))
    op.create_index(
        INDEX,
        "audit_log",
        ["target_type", "target_id", "id"],
        unique=False,
        postgresql_where=sa.text(CONTENT_ROWS),
    )
    # Every row already there, vouched for as it stands: the upgraded database starts
    # covered (the rows are sealed into the chain like any other).
    record_baseline_sync(op.get_bind(), Vouching(actor_role="migration", request_id="0013"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="audit_log", postgresql_where=sa.text(CONTENT_ROWS))
    op.execute(_GUARD.replace("{service_only}", ""))
    for statement in drop_triggers_sql():
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS audit_protected_row()")
    op.execute("DROP FUNCTION IF EXISTS audit_content_hash_of(text[], anyelement)")
    op.execute("DROP FUNCTION IF EXISTS audit_content_hash(text[], jsonb)")
