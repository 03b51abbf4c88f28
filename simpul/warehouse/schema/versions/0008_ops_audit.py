"""0008 ops_audit: Operator audit trail (release, backfill, replay), mirrored from the JSONL file.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS ops.audit (
    audit_id VARCHAR PRIMARY KEY, audited_at TIMESTAMP WITH TIME ZONE NOT NULL,
    operator VARCHAR NOT NULL, host VARCHAR, command VARCHAR NOT NULL, pipeline VARCHAR,
    load_id VARCHAR, args_json VARCHAR, outcome VARCHAR NOT NULL, detail VARCHAR)""",
)

POSTGRESQL: tuple[str, ...] = ()


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    if bind.dialect.name == "postgresql":
        for ddl in POSTGRESQL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
