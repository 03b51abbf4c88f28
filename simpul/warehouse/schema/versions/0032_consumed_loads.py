"""0032 consumed_loads: which loads a successful marts build (or padan run) included, so those
DAGs run once per batch of loads and never skip a load no run has seen
(simpul.orchestration.batches).

Frozen DDL: a revision never imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE ops.consumed_loads (
            consumer VARCHAR NOT NULL, load_id VARCHAR NOT NULL, build_id VARCHAR NOT NULL,
            build_started_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (consumer, load_id))""",
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
