"""0033 marts_consumer: one record of what the marts include. The incremental marts kept theirs
under the consumer ``marts_rows`` beside the orchestration's ``marts``; now ``build_marts``
records under ``marts`` alone (simpul.warehouse.marts_changes) and the orchestration's skip
reads it. The ``marts_rows`` rows (loads and markers) move to ``marts``, so the next build
stays incremental; a load already recorded there keeps its row.

Frozen DDL: a revision never imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """INSERT INTO ops.consumed_loads (consumer, load_id, build_id, build_started_at)
            SELECT 'marts', r.load_id, r.build_id, r.build_started_at
            FROM ops.consumed_loads r
            WHERE r.consumer = 'marts_rows' AND NOT EXISTS (
                SELECT 1 FROM ops.consumed_loads m
                WHERE m.consumer = 'marts' AND m.load_id = r.load_id)""",
    "DELETE FROM ops.consumed_loads WHERE consumer = 'marts_rows'",
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
