"""0016 loads_rows_held: ``received = loaded + quarantined + duplicate + held``: held rows get
their own count.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    "ALTER TABLE ops.loads ADD COLUMN rows_held BIGINT DEFAULT 0",
    """UPDATE ops.loads SET rows_held = rows_received - rows_duplicate WHERE status = 'held'""",
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
