"""0006 schema_changes: ops.schema_changes: every column a delivery added or dropped compared with
the last loaded delivery of the same (source, stream), and what the pipeline did about it.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE ops.schema_changes (
            load_id VARCHAR, pipeline VARCHAR, source VARCHAR, stream VARCHAR,
            change VARCHAR, column_name VARCHAR, mapped BOOLEAN, action VARCHAR,
            previous_load_id VARCHAR, schema_hash_before VARCHAR,
    schema_hash_after VARCHAR,
            detected_at TIMESTAMP WITH TIME ZONE,
            PRIMARY KEY (load_id, change, column_name))""",
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
