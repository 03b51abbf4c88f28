"""0031 core_padan: Padan NIK: per agency person record, the best SIAK candidate and the decision.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0027"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE core.padan (
            padan_id VARCHAR PRIMARY KEY, sumber VARCHAR NOT NULL, load_id VARCHAR,
            baris BIGINT, jumlah_baris BIGINT, nik_sumber VARCHAR, kode_desa VARCHAR,
            status_nik VARCHAR, nik_siak VARCHAR, probabilitas DOUBLE PRECISION,
            bobot DOUBLE PRECISION, penjelasan_id VARCHAR, penjelasan_en VARCHAR,
            keputusan VARCHAR NOT NULL, model_versi VARCHAR, ditinjau_oleh VARCHAR,
            ditinjau_pada TIMESTAMP WITH TIME ZONE,
    dibuat_pada TIMESTAMP WITH TIME ZONE)""",
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
