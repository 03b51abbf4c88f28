"""0004 marts_penduduk: Marts tables (rebuilt by simpul.warehouse.marts.build_marts; created here
so that grants to the analyst role survive rebuilds).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE "marts"."penduduk" ("pseudonim" VARCHAR, "pseudonim_kk" VARCHAR,
    "kunci_id" VARCHAR, "kode_desa" VARCHAR, "nama_desa" VARCHAR, "dusun" VARCHAR,
    "jenis_kelamin" VARCHAR, "agama" VARCHAR, "status_perkawinan" VARCHAR,
    "shdk" VARCHAR, "pendidikan" VARCHAR, "pekerjaan" VARCHAR, "tahun_lahir" BIGINT,
    "kelompok_umur" VARCHAR, "umur_min" BIGINT, "per_tanggal" DATE)""",
    """CREATE TABLE "marts"."penduduk_bulanan" ("akhir_bulan" DATE, "kode_desa" VARCHAR,
    "nama_desa" VARCHAR, "kelompok_umur" VARCHAR, "umur_min" BIGINT,
    "jenis_kelamin" VARCHAR, "agama" VARCHAR, "pendidikan" VARCHAR, "jumlah" BIGINT)""",
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
