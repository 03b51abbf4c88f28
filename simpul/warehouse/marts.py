"""The ``marts`` layer: what analysts may read, rebuilt from core by :func:`build_marts`.

Marts never hold NIK, KK number, names, addresses or birth dates: people appear under a keyed
pseudonym (HMAC-SHA256, key in ``SIMPUL_PSEUDONYM_KEY``) with an age group and birth year.
A rebuild replaces the contents in one transaction (tables themselves stay, so grants to
``simpul_analyst`` survive), runs the same SQL on DuckDB and PostgreSQL, and gives the same
rows when nothing in core changed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.domain.clock import WIB
from simpul.warehouse import marts_changes as changes
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.marts_changes import Plan, month_end
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


def months(start: date, end: date) -> list[tuple[date, datetime]]:
    """(last day, cut-off instant) of each month from ``start`` to ``end``; the cut-off is
    midnight WIB after the last day, so a change at that instant belongs to the next month."""
    out = []
    d = date(start.year, start.month, 1)
    while d <= end:
        last = month_end(d)
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


PSEUDONYMS = "_simpul_pseudonyms"
MONTHS = "_simpul_months"
PAGE = 200_000  # residents per page of pseudonyms
# a touched desa, matched NULL-safe (residents without a village are counted under NULL)
IN_DESA = (
    f"EXISTS (SELECT 1 FROM {changes.DESA_TABLE} d WHERE d.kode_desa IS NOT DISTINCT FROM {{col}})"
)


def _insert_pseudonyms(conn: Connection, wh: Warehouse, key: bytes, touched: bool) -> None:
    """NIK -> pseudonyms of the living residents (``touched``: only those a delivery touched),
    a page of :data:`PAGE` residents at a time so a province never sits in memory at once."""
    join = f"JOIN {changes.NIKS_TABLE} n ON n.nik = c.nik " if touched else ""
    last = ""
    while True:
        people = conn.execute(
            sa.text(
                f"select c.nik, c.no_kk from core.penduduk c {join}"
                f"where c.nik > :last and c._deleted_at is null and {ALIVE.format(t='c')} "
                f"order by c.nik limit {PAGE}"
            ),
            {"last": last},
        ).all()
        if not people:
            return
        last = people[-1][0]
        page = {
            "nik": pa.array([p[0] for p in people], S),
            "pseudonim": pa.array([pseudonymise(p[0], key, "nik") for p in people], S),
            "pseudonim_kk": pa.array([pseudonymise(p[1], key, "kk") for p in people], S),
        }
        del people
        wh.bulk_insert(conn, PSEUDONYMS, pa.table(page))


def _month_table(month_rows: list[tuple[date, datetime]], p: Plan) -> pa.Table:
    """The months this build (re)computes; ``semua``: for every desa, else the touched ones."""
    picked = []
    for last, cut in month_rows:
        every = p.full_bulanan or (p.new_after is not None and last > p.new_after)
        if every or (p.since is not None and p.desa and last >= p.since):
            picked.append((last, cut, every))
    return pa.table(
        {
            "akhir_bulan": pa.array([m[0] for m in picked], pa.date32()),
            "batas": pa.array([m[1] for m in picked], pa.timestamp("us", tz="UTC")),
            "semua": pa.array([m[2] for m in picked], pa.bool_()),
        }
    )


def _fill_penduduk(conn: Connection, wh: Warehouse, key: bytes, p: Plan, today: date) -> None:
    """Replace the current-residents mart, whole or for the residents a delivery touched."""
    if p.full_penduduk:
        conn.exec_driver_sql("DELETE FROM marts.penduduk")
    elif p.niks:
        gone = pa.table({"pseudonim": [pseudonymise(n, key, "nik") for n in p.niks]})
        conn.exec_driver_sql("CREATE TEMP TABLE _simpul_gone (pseudonim VARCHAR)")
        wh.bulk_insert(conn, "_simpul_gone", gone)
        conn.exec_driver_sql(
            "DELETE FROM marts.penduduk WHERE pseudonim IN (SELECT pseudonim FROM _simpul_gone)"
        )
        conn.exec_driver_sql("DROP TABLE _simpul_gone")
    else:
        return
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PSEUDONYMS}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {PSEUDONYMS} (nik VARCHAR, pseudonim VARCHAR, pseudonim_kk VARCHAR)"
    )
    _insert_pseudonyms(conn, wh, key, not p.full_penduduk)
    if wh.dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {PSEUDONYMS}")
    label, low = _age_group(_age("c.tanggal_lahir", ":today"))
    conn.execute(
        sa.text(
            f"""INSERT INTO marts.penduduk ({", ".join(TABLES["penduduk"].names)})
            SELECT p.pseudonim, p.pseudonim_kk, :kid, c.kode_desa, w.nama, c.dusun,
                c.jenis_kelamin, c.agama, c.status_perkawinan, c.shdk, c.pendidikan,
                c.pekerjaan, CAST(EXTRACT(YEAR FROM c.tanggal_lahir) AS INTEGER),
                {label}, {low}, :today
            FROM core.penduduk c
            JOIN {PSEUDONYMS} p ON p.nik = c.nik
            LEFT JOIN ref.wilayah w ON w.kode = c.kode_desa AND w.tingkat = 'desa'"""
        ),
        {"today": today, "kid": key_id(key)},
    )
    conn.exec_driver_sql(f"DROP TABLE {PSEUDONYMS}")


def _fill_bulanan(conn: Connection, wh: Warehouse, months_now: pa.Table, full: bool) -> None:
    """Replace the monthly counts of the (month, desa) cells in ``months_now``."""
    if full:
        conn.exec_driver_sql("DELETE FROM marts.penduduk_bulanan")
    if months_now.num_rows == 0:
        return
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {MONTHS}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {MONTHS} (akhir_bulan DATE, batas TIMESTAMP WITH TIME ZONE, "
        "semua BOOLEAN)"
    )
    wh.bulk_insert(conn, MONTHS, months_now)
    if wh.dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {MONTHS}, {changes.DESA_TABLE}")
    if not full:
        conn.exec_driver_sql(
            f"DELETE FROM marts.penduduk_bulanan WHERE EXISTS (SELECT 1 FROM {MONTHS} m "
            "WHERE m.akhir_bulan = marts.penduduk_bulanan.akhir_bulan AND (m.semua OR "
            f"{IN_DESA.format(col='marts.penduduk_bulanan.kode_desa')}))"
        )
    label, low = _age_group("x.umur")
    conn.exec_driver_sql(
        f"""INSERT INTO marts.penduduk_bulanan ({", ".join(TABLES["penduduk_bulanan"].names)})
        SELECT x.akhir_bulan, x.kode_desa, w.nama, {label}, {low},
            x.jenis_kelamin, x.agama, x.pendidikan, COUNT(*)
        FROM (
            SELECT m.akhir_bulan, h.kode_desa, c.jenis_kelamin, c.agama, h.pendidikan,
                {_age("c.tanggal_lahir", "m.akhir_bulan")} AS umur
            FROM {MONTHS} m
            JOIN core.penduduk_history h
              ON h.valid_from < m.batas
             AND (h.valid_to IS NULL OR h.valid_to >= m.batas)
            JOIN core.penduduk c ON c.nik = h.nik
            WHERE {ALIVE.format(t="h")}
              AND (c.tanggal_lahir IS NULL OR c.tanggal_lahir <= m.akhir_bulan)
              AND (m.semua OR {IN_DESA.format(col="h.kode_desa")})
        ) x
        LEFT JOIN ref.wilayah w ON w.kode = x.kode_desa AND w.tingkat = 'desa'
        GROUP BY x.akhir_bulan, x.kode_desa, w.nama, {label}, {low},
            x.jenis_kelamin, x.agama, x.pendidikan"""
    )
    conn.exec_driver_sql(f"DROP TABLE {MONTHS}")


def build_marts(
    wh: Warehouse, *, start: date | None = None, end: date | None = None, full: bool = False
) -> dict[str, int]:
    """Bring every mart up to date with core; returns rows per mart. Needs
    ``SIMPUL_PSEUDONYM_KEY``. Only what the deliveries since the last build touched is rebuilt
    (:mod:`simpul.warehouse.marts_changes`; ``full=True`` rebuilds everything): the rows are
    the same either way.

    ``penduduk_bulanan`` covers each month from ``start`` (default: the first load) to ``end``
    (default: this month, i.e. the state as of the last load).
    """
    from simpul.securefs import owner_only_umask

    owner_only_umask()
    key = pseudonym_key()
    started = datetime.now(UTC)
    today = started.astimezone(WIB).date()
    end = end or today
    start = min(start or _default_start(wh) or end, end)
    counts: dict[str, int] = {}
    with wh.begin() as conn:
        marks = changes.markers(conn, kid=key_id(key), start=start, end=end, today=today)
        p = changes.plan(conn, marks, full=full)
        if wh.dialect == "postgresql" and (p.full_penduduk or p.full_bulanan):
            # Fresh statistics: right after a large load PostgreSQL still believes core is
            # nearly empty and plans nested loops (a 650,000-resident rebuild: 106 s -> ~5 s).
            conn.exec_driver_sql("ANALYZE core.penduduk, core.penduduk_history, ref.wilayah")
        _fill_penduduk(conn, wh, key, p, today)
        _fill_bulanan(conn, wh, _month_table(months(start, end), p), p.full_bulanan)
        changes.record(conn, p, started)
        changes.drop_temp(conn)
        for name in TABLES:
            total = conn.execute(sa.text(f"select count(*) from marts.{name}")).scalar()
            counts[f"marts.{name}"] = int(total or 0)
    _publish(wh, counts)
    with wh.begin() as conn:
        changes.record_published(conn, started)
    return counts


def _publish(wh: Warehouse, counts: dict[str, int]) -> dict[str, int]:
    """Reconciliation findings and the analysts' copies, after every build."""
    from simpul.warehouse.reconciliation import build_reconciliation

    findings = build_reconciliation(wh)
    counts["marts.rekonsiliasi"] = sum(findings.values())
    from simpul.warehouse.analyst import publish_analyst_db

    publish_analyst_db(wh)  # DuckDB: the analysts' own read-only copy (marts and ref only)
    from simpul.warehouse.analyst_pg import publish_analyst_schema

    publish_analyst_schema(wh)  # PostgreSQL: the same protected tables in schema analyst
    return counts
