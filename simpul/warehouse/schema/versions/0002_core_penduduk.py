"""0002 core_penduduk: core.penduduk and its raw landing table (all source values as delivered, as
text).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE "core"."penduduk" ("nik" VARCHAR, "no_kk" VARCHAR, "nama_lengkap" VARCHAR,
    "jenis_kelamin" VARCHAR, "tempat_lahir" VARCHAR, "tanggal_lahir" DATE,
    "agama" VARCHAR, "status_perkawinan" VARCHAR, "shdk" VARCHAR, "pendidikan" VARCHAR,
    "pekerjaan" VARCHAR, "golongan_darah" VARCHAR, "nik_ayah" VARCHAR,
    "nama_ayah" VARCHAR, "nik_ibu" VARCHAR, "nama_ibu" VARCHAR, "kode_desa" VARCHAR,
    "dusun" VARCHAR, "rw" VARCHAR, "rt" VARCHAR, "alamat" VARCHAR,
    "status_dasar" VARCHAR, "updated_at" TIMESTAMP WITH TIME ZONE, "_load_id" VARCHAR,
    "_source" VARCHAR, "_extracted_at" TIMESTAMP WITH TIME ZONE,
    "_merged_at" TIMESTAMP WITH TIME ZONE, PRIMARY KEY ("nik"))""",
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
