"""Alembic environment: runs on the connection :mod:`simpul.warehouse.migrations` hands over.

Each revision runs in its own transaction and is also recorded in ``ops.schema_migrations``
(version = the revision's number), so the numbering of the runner before Alembic goes on.
The version table is ``ops.alembic_version``. Imports nothing from ``simpul``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.ddl.impl import DefaultImpl


class DuckDBImpl(DefaultImpl):
    """Alembic knows no 'duckdb' dialect; DuckDB runs DDL inside transactions."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def _record(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    """Alembic's on_version_apply hook: the applied revision in ops.schema_migrations too."""
    if not step.is_upgrade or getattr(step, "is_stamp", False):
        return
    rev = step.up_revision
    if rev is None or not rev.revision.isdigit():
        return
    name = (rev.doc or "").split(":", 1)[0].split(" ", 1)[-1].strip() or rev.revision
    ctx.connection.execute(
        sa.text(
            "INSERT INTO ops.schema_migrations (version, name, applied_at) "
            "SELECT :v, :n, :t WHERE NOT EXISTS "
            "(SELECT 1 FROM ops.schema_migrations WHERE version = :v)"
        ),
        {"v": int(rev.revision), "n": name[:100], "t": datetime.now(UTC)},
    )


def run() -> None:
    connection = context.config.attributes["connection"]
    connection.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "ops"')
    connection.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS ops.schema_migrations (version INTEGER PRIMARY KEY, "
        "name VARCHAR, applied_at TIMESTAMP WITH TIME ZONE)"
    )
    connection.commit()
    context.configure(
        connection=connection,
        version_table="alembic_version",
        version_table_schema="ops",
        transaction_per_migration=True,
        on_version_apply=_record,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
