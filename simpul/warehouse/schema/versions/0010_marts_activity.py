"""0010 marts_activity: Views over core for events, permits and PATEN turnaround (always current).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE VIEW "marts"."peristiwa_bulanan" AS
        SELECT CAST(date_trunc('month', tanggal_peristiwa) AS DATE) AS bulan, kode_desa,
               kode_peristiwa,
               CASE kode_peristiwa WHEN '1' THEN 'lahir' WHEN '2' THEN 'mati'
                    WHEN '3' THEN 'pindah keluar' WHEN '4' THEN 'hilang'
                    WHEN '5' THEN 'pindah masuk' WHEN '6' THEN 'pergi' END AS peristiwa,
               COUNT(*) AS jumlah
        FROM core.peristiwa WHERE tanggal_peristiwa IS NOT NULL
        GROUP BY 1, 2, 3""",
    """CREATE VIEW "marts"."izin_kbli" AS
        SELECT kbli, judul_kbli, tingkat_risiko, status, kode_desa, COUNT(*) AS jumlah
        FROM core.izin GROUP BY 1, 2, 3, 4, 5""",
    """CREATE VIEW "marts"."paten_waktu_layanan" AS
        SELECT jenis_layanan, COUNT(*) AS selesai,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hari) AS median_hari,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY hari) AS p90_hari
        FROM (SELECT jenis_layanan,
                     EXTRACT(EPOCH FROM (tanggal_selesai - tanggal_diterima)) / 86400.0 AS hari
              FROM core.permohonan_layanan
              WHERE tanggal_selesai IS NOT NULL AND status IN ('terbit', 'ditolak')) t
        GROUP BY 1""",
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
