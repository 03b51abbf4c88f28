"""0009 marts_rekonsiliasi: Cross-agency reconciliation findings (simpul.warehouse.reconciliation).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE marts.rekonsiliasi ("temuan" VARCHAR, "pseudonim" VARCHAR,
    "kode_desa" VARCHAR, "kolom" VARCHAR, "sumber" VARCHAR, "per_tanggal" DATE)""",
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
