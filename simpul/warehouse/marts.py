"""The ``marts`` layer: what analysts may read, rebuilt from core by :func:`build_marts`.

Marts never hold NIK, KK number, names, addresses or birth dates: people appear under a keyed
pseudonym (HMAC-SHA256, key in ``SIMPUL_PSEUDONYM_KEY``) with an age group and birth year.
A rebuild replaces the contents in one transaction (tables themselves stay, so grants to
``simpul_analyst`` survive), runs the same SQL on DuckDB and PostgreSQL, and gives the same
rows when nothing in core changed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from simpul.domain.clock import WIB
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.pseudonym import key_id, pseudonym_key, pseudonymise

S = pa.string()
INT = pa.int64()

TABLES: dict[str, pa.Schema] = {
    "penduduk": pa.schema(
        [
            ("pseudonim", S),
            ("pseudonim_kk", S),
            ("kunci_id", S),
            ("kode_desa", S),
            ("nama_desa", S),
            ("dusun", S),
            ("jenis_kelamin", S),
            ("agama", S),
            ("status_perkawinan", S),
            ("shdk", S),
            ("pendidikan", S),
            ("pekerjaan", S),
            ("tahun_lahir", INT),
            ("kelompok_umur", S),
            ("umur_min", INT),
            ("per_tanggal", pa.date32()),
        ]
    ),
    "penduduk_bulanan": pa.schema(
        [
            ("akhir_bulan", pa.date32()),
            ("kode_desa", S),
            ("nama_desa", S),
            ("kelompok_umur", S),
            ("umur_min", INT),
            ("jenis_kelamin", S),
            ("agama", S),
            ("pendidikan", S),
            ("jumlah", INT),
        ]
    ),
}

ALIVE = "COALESCE({t}.status_dasar, '1') = '1'"


def _age(born: str, on: str) -> str:
    """Completed years between two DATE expressions, in SQL both engines accept."""

    def part(unit: str, d: str) -> str:
        return f"CAST(EXTRACT({unit} FROM {d}) AS INTEGER)"

    return (
        f"({part('YEAR', on)} - {part('YEAR', born)} - CASE WHEN "
        f"{part('MONTH', on)} * 100 + {part('DAY', on)} < "
        f"{part('MONTH', born)} * 100 + {part('DAY', born)} THEN 1 ELSE 0 END)"
    )


def _age_group(age: str) -> tuple[str, str]:
    """(label, lower bound) of the five-year group: 0-4, 5-9, ..., 70-74, 75+."""
    low = (
        f"CASE WHEN {age} IS NULL THEN NULL WHEN {age} >= 75 THEN 75 "
        f"ELSE CAST(FLOOR({age} / 5.0) AS INTEGER) * 5 END"
    )
    label = (
        f"CASE WHEN {age} IS NULL THEN 'tidak diketahui' WHEN {age} >= 75 THEN '75+' "
        f"ELSE CAST(CAST(FLOOR({age} / 5.0) AS INTEGER) * 5 AS VARCHAR) || '-' || "
        f"CAST(CAST(FLOOR({age} / 5.0) AS INTEGER) * 5 + 4 AS VARCHAR) END"
    )
    return label, low


def _month_end(d: date) -> date:
    nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def months(start: date, end: date) -> list[tuple[date, datetime]]:
    """(last day, cut-off instant) of each month from ``start`` to ``end``; the cut-off is
    midnight WIB after the last day, so a change at that instant belongs to the next month."""
    out = []
    d = date(start.year, start.month, 1)
    while d <= end:
        last = _month_end(d)
        out.append((last, datetime.combine(last + timedelta(days=1), datetime.min.time(), WIB)))
        d = last + timedelta(days=1)
    return out


def _default_start(wh: Warehouse) -> date | None:
    """The month of the first loaded delivery: before it, history only knows what sources
    last changed, so earlier months would be undercounted."""
    first = wh.scalar("select min(extracted_at) from ops.loads where status = 'loaded'")
    if first is None:
        first = wh.scalar("select min(valid_from) from core.penduduk_history")
    return first.astimezone(WIB).date() if first is not None else None


def build_marts(
    wh: Warehouse, *, start: date | None = None, end: date | None = None
) -> dict[str, int]:
    """Rebuild every mart from core; returns rows per mart. Needs ``SIMPUL_PSEUDONYM_KEY``.

    ``penduduk_bulanan`` covers each month from ``start`` (default: the first load) to ``end``
    (default: this month, i.e. the state as of the last load).
    """
    from simpul.securefs import owner_only_umask

    owner_only_umask()
    key = pseudonym_key()
    today = datetime.now(UTC).astimezone(WIB).date()
    end = end or today
    start = start or _default_start(wh) or end
    month_rows = months(min(start, end), end)
    people = wh.query(
        "select nik, no_kk from core.penduduk "
        f"where _deleted_at is null and {ALIVE.format(t='core.penduduk')}"
    )
    kid = key_id(key)
    pseudonyms = pa.table(
        {
            "nik": pa.array([p["nik"] for p in people], S),
            "pseudonim": pa.array([pseudonymise(p["nik"], key, "nik") for p in people], S),
            "pseudonim_kk": pa.array([pseudonymise(p["no_kk"], key, "kk") for p in people], S),
        }
    )
    month_table = pa.table(
        {
            "akhir_bulan": pa.array([m[0] for m in month_rows], pa.date32()),
            "batas": pa.array([m[1] for m in month_rows], pa.timestamp("us", tz="UTC")),
        }
    )
    label_now, low_now = _age_group(_age("c.tanggal_lahir", ":today"))
    label_m, low_m = _age_group("x.umur")
    counts: dict[str, int] = {}
    with wh.begin() as conn:
        for ddl in (
            "DROP TABLE IF EXISTS _simpul_pseudonyms",
            "DROP TABLE IF EXISTS _simpul_months",
            "CREATE TEMP TABLE _simpul_pseudonyms (nik VARCHAR, pseudonim VARCHAR, "
            "pseudonim_kk VARCHAR)",
            "CREATE TEMP TABLE _simpul_months (akhir_bulan DATE, batas TIMESTAMP WITH TIME ZONE)",
            "DELETE FROM marts.penduduk",
            "DELETE FROM marts.penduduk_bulanan",
        ):
            conn.exec_driver_sql(ddl)
        wh.bulk_insert(conn, "_simpul_pseudonyms", pseudonyms)
        wh.bulk_insert(conn, "_simpul_months", month_table)
        if wh.dialect == "postgresql":
            # Fresh statistics: right after a large load PostgreSQL still believes core is
            # nearly empty and plans nested loops (a 650,000-resident rebuild: 106 s -> ~5 s).
            conn.exec_driver_sql(
                "ANALYZE core.penduduk, core.penduduk_history, ref.wilayah, "
                "_simpul_pseudonyms, _simpul_months"
            )
        params: dict[str, Any] = {"today": today, "kid": kid}
        conn.execute(
            sa.text(
                f"""INSERT INTO marts.penduduk ({", ".join(TABLES["penduduk"].names)})
                SELECT p.pseudonim, p.pseudonim_kk, :kid, c.kode_desa, w.nama, c.dusun,
                    c.jenis_kelamin, c.agama, c.status_perkawinan, c.shdk, c.pendidikan,
                    c.pekerjaan, CAST(EXTRACT(YEAR FROM c.tanggal_lahir) AS INTEGER),
                    {label_now}, {low_now}, :today
                FROM core.penduduk c
                JOIN _simpul_pseudonyms p ON p.nik = c.nik
                LEFT JOIN ref.wilayah w ON w.kode = c.kode_desa AND w.tingkat = 'desa'"""
            ),
            params,
        )
        conn.execute(
            sa.text(
                f"""INSERT INTO marts.penduduk_bulanan
                    ({", ".join(TABLES["penduduk_bulanan"].names)})
                SELECT x.akhir_bulan, x.kode_desa, w.nama, {label_m}, {low_m},
                    x.jenis_kelamin, x.agama, x.pendidikan, COUNT(*)
                FROM (
                    SELECT m.akhir_bulan, h.kode_desa, c.jenis_kelamin, c.agama, h.pendidikan,
                        {_age("c.tanggal_lahir", "m.akhir_bulan")} AS umur
                    FROM _simpul_months m
                    JOIN core.penduduk_history h
                      ON h.valid_from < m.batas
                     AND (h.valid_to IS NULL OR h.valid_to >= m.batas)
                    JOIN core.penduduk c ON c.nik = h.nik
                    WHERE {ALIVE.format(t="h")}
                      AND (c.tanggal_lahir IS NULL OR c.tanggal_lahir <= m.akhir_bulan)
                ) x
                LEFT JOIN ref.wilayah w ON w.kode = x.kode_desa AND w.tingkat = 'desa'
                GROUP BY x.akhir_bulan, x.kode_desa, w.nama, {label_m}, {low_m},
                    x.jenis_kelamin, x.agama, x.pendidikan"""
            ),
            params,
        )
        for name in TABLES:
            counts[f"marts.{name}"] = conn.execute(
                sa.text(f"select count(*) from marts.{name}")
            ).scalar()
        conn.exec_driver_sql("DROP TABLE _simpul_pseudonyms")
        conn.exec_driver_sql("DROP TABLE _simpul_months")
    from simpul.warehouse.reconciliation import build_reconciliation

    findings = build_reconciliation(wh)
    counts["marts.rekonsiliasi"] = sum(findings.values())
    from simpul.warehouse.analyst import publish_analyst_db

    publish_analyst_db(wh)  # DuckDB: the analysts' own read-only copy (marts and ref only)
    from simpul.warehouse.analyst_pg import publish_analyst_schema

    publish_analyst_schema(wh)  # PostgreSQL: the same protected tables in schema analyst
    return counts
