"""Alembic environment: always handed a live connection by service.db.migrate."""

from alembic import context

from service.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `credit-service db upgrade`")

context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
