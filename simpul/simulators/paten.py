"""The kecamatan's own PATEN service application, simulated as its SQLite database.

PATEN applications are recorded at the kecamatan counter, not at a kabupaten agency; the hub
reads that application's database through the generic SQL connector (``connectors/sql``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa

TABLE = "permohonan"


def write_paten_db(world_dir: Path | str, db_path: Path | str) -> Path:
    """(Re)write the application's table from the world's ``permohonan_layanan``."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    rows = pq.read_table(Path(world_dir) / "permohonan_layanan.parquet").to_pylist()
    engine = sa.create_engine(f"sqlite:///{tmp}")
    meta = sa.MetaData()
    table = sa.Table(
        TABLE,
        meta,
        sa.Column("id_permohonan", sa.String(32), primary_key=True),
        sa.Column("nik_pemohon", sa.String(16)),
        sa.Column("jenis_layanan", sa.String(40)),
        sa.Column("kode_desa", sa.String(13)),
        sa.Column("tanggal_diterima", sa.Date),
        sa.Column("tanggal_selesai", sa.Date),
        sa.Column("status", sa.String(20)),
        sa.Column("updated_at", sa.DateTime),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        for r in rows:
            r["updated_at"] = r["updated_at"].replace(tzinfo=None)  # stored as UTC
        conn.execute(table.insert(), rows)
    engine.dispose()
    tmp.replace(db_path)
    return db_path
