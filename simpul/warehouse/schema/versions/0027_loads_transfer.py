"""0027 loads_transfer: Network cost per load: body bytes received and how many runs the pull took
(a pull resumed after an outage spans several), so a metered line's use shows in status.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0023"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    "ALTER TABLE ops.loads ADD COLUMN bytes_transferred BIGINT",
    "ALTER TABLE ops.loads ADD COLUMN pull_runs INTEGER",
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
