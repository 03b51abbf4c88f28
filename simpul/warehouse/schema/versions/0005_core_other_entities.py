"""0005 core_other_entities: core tables of the other canonical entities (keluarga, peristiwa,
izin, ...), generated from the model like core.penduduk; merged by natural key (newest
updated_at wins).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE "core"."keluarga" ("no_kk" VARCHAR, "nik_kepala" VARCHAR,
    "kode_desa" VARCHAR, "dusun" VARCHAR, "rw" VARCHAR, "rt" VARCHAR, "alamat" VARCHAR,
    "updated_at" TIMESTAMP WITH TIME ZONE, "_load_id" VARCHAR, "_source" VARCHAR,
    "_extracted_at" TIMESTAMP WITH TIME ZONE, "_merged_at" TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY ("no_kk"))""",
    """CREATE TABLE "core"."peristiwa" ("id_peristiwa" VARCHAR, "nik" VARCHAR, "no_kk" VARCHAR,
    "kode_peristiwa" VARCHAR, "tanggal_peristiwa" DATE, "kode_desa" VARCHAR,
    "kode_wilayah_lain" VARCHAR, "updated_at" TIMESTAMP WITH TIME ZONE,
    "_load_id" VARCHAR, "_source" VARCHAR, "_extracted_at" TIMESTAMP WITH TIME ZONE,
    "_merged_at" TIMESTAMP WITH TIME ZONE, PRIMARY KEY ("id_peristiwa"))""",
    """CREATE TABLE "core"."permohonan_layanan" ("id_permohonan" VARCHAR, "nik_pemohon" VARCHAR,
    "jenis_layanan" VARCHAR, "kode_desa" VARCHAR,
    "tanggal_diterima" TIMESTAMP WITH TIME ZONE,
    "tanggal_selesai" TIMESTAMP WITH TIME ZONE, "status" VARCHAR,
    "updated_at" TIMESTAMP WITH TIME ZONE, "_load_id" VARCHAR, "_source" VARCHAR,
    "_extracted_at" TIMESTAMP WITH TIME ZONE, "_merged_at" TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY ("id_permohonan"))""",
    """CREATE TABLE "core"."izin" ("nomor_izin" VARCHAR, "nib" VARCHAR, "kbli" VARCHAR,
    "judul_kbli" VARCHAR, "tingkat_risiko" VARCHAR, "status" VARCHAR,
    "nik_pemohon" VARCHAR, "kode_desa" VARCHAR, "tanggal_terbit" DATE,
    "tanggal_berlaku_sampai" DATE, "updated_at" TIMESTAMP WITH TIME ZONE,
    "_load_id" VARCHAR, "_source" VARCHAR, "_extracted_at" TIMESTAMP WITH TIME ZONE,
    "_merged_at" TIMESTAMP WITH TIME ZONE, PRIMARY KEY ("nomor_izin"))""",
    """CREATE TABLE "core"."penerima_bantuan" ("nik" VARCHAR, "no_kk" VARCHAR,
    "program" VARCHAR, "periode" VARCHAR, "kode_desa" VARCHAR, "nominal" BIGINT,
    "updated_at" TIMESTAMP WITH TIME ZONE, "_load_id" VARCHAR, "_source" VARCHAR,
    "_extracted_at" TIMESTAMP WITH TIME ZONE, "_merged_at" TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY ("nik", "program", "periode"))""",
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
