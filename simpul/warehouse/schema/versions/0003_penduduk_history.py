"""0003 penduduk_history: Source versions, SCD2 history, merge conflicts and soft deletes for
penduduk.

Existing core rows become their own first version and history row, so a warehouse loaded before
this migration continues without a reload.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    'ALTER TABLE "core"."penduduk" ADD COLUMN "_deleted_at" TIMESTAMP WITH TIME ZONE',
    """CREATE TABLE "core"."penduduk_versions" ("nik" VARCHAR, "no_kk" VARCHAR,
    "nama_lengkap" VARCHAR, "jenis_kelamin" VARCHAR, "tempat_lahir" VARCHAR,
    "tanggal_lahir" DATE, "agama" VARCHAR, "status_perkawinan" VARCHAR, "shdk" VARCHAR,
    "pendidikan" VARCHAR, "pekerjaan" VARCHAR, "golongan_darah" VARCHAR,
    "nik_ayah" VARCHAR, "nama_ayah" VARCHAR, "nik_ibu" VARCHAR, "nama_ibu" VARCHAR,
    "kode_desa" VARCHAR, "dusun" VARCHAR, "rw" VARCHAR, "rt" VARCHAR, "alamat" VARCHAR,
    "status_dasar" VARCHAR, "updated_at" TIMESTAMP WITH TIME ZONE, "_load_id" VARCHAR,
    "_source" VARCHAR, "_extracted_at" TIMESTAMP WITH TIME ZONE,
    "_last_seen_at" TIMESTAMP WITH TIME ZONE, "_row_hash" VARCHAR, "_deleted" BOOLEAN,
    "_recorded_at" TIMESTAMP WITH TIME ZONE)""",
    'CREATE INDEX penduduk_versions_key ON "core"."penduduk_versions" ("nik")',
    """CREATE TABLE "core"."penduduk_history" ("nik" VARCHAR,
    "valid_from" TIMESTAMP WITH TIME ZONE, "valid_to" TIMESTAMP WITH TIME ZONE,
    "is_current" BOOLEAN, "no_kk" VARCHAR, "kode_desa" VARCHAR, "dusun" VARCHAR,
    "rw" VARCHAR, "rt" VARCHAR, "alamat" VARCHAR, "status_perkawinan" VARCHAR,
    "shdk" VARCHAR, "status_dasar" VARCHAR, "pendidikan" VARCHAR, "pekerjaan" VARCHAR,
    "_source" VARCHAR, "_load_id" VARCHAR, "_recorded_at" TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY ("nik", valid_from))""",
    """CREATE TABLE ops.merge_conflicts ("entity" VARCHAR, "record_key" VARCHAR,
    "column_name" VARCHAR, "observed_at" TIMESTAMP WITH TIME ZONE, "kept_source" VARCHAR,
    "kept_hash" VARCHAR, "rejected_source" VARCHAR, "rejected_hash" VARCHAR,
    "load_id" VARCHAR, "detected_at" TIMESTAMP WITH TIME ZONE)""",
    "CREATE INDEX merge_conflicts_key ON ops.merge_conflicts (entity, record_key)",
)

# core.penduduk's columns as of this revision (the content hash covers all but key and
# updated_at) and the columns the SCD2 history tracks
COLUMNS = (
    "nik",
    "no_kk",
    "nama_lengkap",
    "jenis_kelamin",
    "tempat_lahir",
    "tanggal_lahir",
    "agama",
    "status_perkawinan",
    "shdk",
    "pendidikan",
    "pekerjaan",
    "golongan_darah",
    "nik_ayah",
    "nama_ayah",
    "nik_ibu",
    "nama_ibu",
    "kode_desa",
    "dusun",
    "rw",
    "rt",
    "alamat",
    "status_dasar",
    "updated_at",
)
LINEAGE = ("_load_id", "_source", "_extracted_at")
TRACKED = (
    "no_kk",
    "kode_desa",
    "dusun",
    "rw",
    "rt",
    "alamat",
    "status_perkawinan",
    "shdk",
    "status_dasar",
    "pendidikan",
    "pekerjaan",
)


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo is None else value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _row_hash(row: dict[str, Any]) -> str:
    """The merge's version hash as of this revision (not deleted)."""
    text = "\x1f".join(
        "\x00" if (v := _canonical(row.get(c))) is None else v
        for c in COLUMNS
        if c not in ("nik", "updated_at")
    )
    return hashlib.sha256(f"0\x1e{text}".encode()).hexdigest()[:32]


def _existing_rows_get_a_history(bind: sa.engine.Connection) -> None:
    """Rows loaded before this revision become their own first version and history row."""
    rows = [dict(r._mapping) for r in bind.execute(sa.text("SELECT * FROM core.penduduk"))]
    if not rows:
        return
    now = datetime.now(UTC)
    versions = []
    for r in rows:
        v = {c: r[c] for c in COLUMNS + LINEAGE}
        v.update(_last_seen_at=r["_extracted_at"], _deleted=False, _recorded_at=now)
        v["_row_hash"] = _row_hash(v)
        versions.append(v)
    cols = list(COLUMNS + LINEAGE) + ["_last_seen_at", "_row_hash", "_deleted", "_recorded_at"]
    quoted = ", ".join('"' + c + '"' for c in cols)
    bind.execute(
        sa.text(
            f"INSERT INTO core.penduduk_versions ({quoted}) "
            f"VALUES ({', '.join(':' + c for c in cols)})"
        ),
        versions,
    )
    tracked = ", ".join(TRACKED)
    bind.execute(
        sa.text(
            f"INSERT INTO core.penduduk_history (nik, valid_from, valid_to, is_current, "
            f"{tracked}, _source, _load_id, _recorded_at) SELECT nik, "
            f"COALESCE(updated_at, _extracted_at), NULL, TRUE, {tracked}, _source, _load_id, "
            f":now FROM core.penduduk"
        ),
        {"now": now},
    )


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    _existing_rows_get_a_history(bind)


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
