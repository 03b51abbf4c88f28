"""0019 exchange_content: Exchange outbox: content hash (deliver once per change) and partition
(per village).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    "ALTER TABLE ops.exchange_outbox ADD COLUMN IF NOT EXISTS content_sha256 VARCHAR",
    "ALTER TABLE ops.exchange_outbox ADD COLUMN IF NOT EXISTS part VARCHAR",
    """CREATE INDEX IF NOT EXISTS exchange_outbox_latest
        ON ops.exchange_outbox (agreement, dataset, created_at)""",
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
