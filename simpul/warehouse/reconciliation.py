"""Cross-agency reconciliation marts: what one agency's records say that another's contradict.

``marts.rekonsiliasi`` holds one row per finding, keyed by the person's pseudonym (never the
NIK), so analysts and the camat can count and follow up without seeing identities; the agency
exchange (``simpul.exchange``) sends the identified rows only to the agency entitled to them.

Findings (``temuan``):

- ``desa_tidak_di_siak``: a resident the village system (OpenSID) lists and SIAK does not.
- ``siak_tidak_di_desa``: a living SIAK resident of a village that reports, missing there.
- ``desa_siak_berbeda``: both list the person but disagree on ``kolom`` (desa, RW, RT, status).
- ``izin_nik_tidak_dikenal``: a permit whose applicant NIK is no registered resident (and
  that padan NIK did not link to one: then it is ``nik_tidak_padan``).
- ``meninggal_masih_menerima_bantuan``: a deceased resident still on an assistance list
  (also when the list's NIK is mistyped: padan NIK links the record to the person).
- ``nik_tidak_padan``: an agency record that padan NIK linked to a SIAK person whose NIK
  differs from the one the agency holds (to be corrected at the source).

Padan links count when auto-linked or accepted by a reviewer (``core.padan``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from simpul.warehouse.engine import Warehouse
from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise

S = pa.string()
SCHEMA = pa.schema(
    [
        ("temuan", S),
        ("pseudonim", S),
        ("kode_desa", S),
        ("kolom", S),
        ("sumber", S),
        ("per_tanggal", pa.date32()),
    ]
)
COMPARED = ("kode_desa", "rw", "rt", "status_dasar")
_LINKED = "('tertaut_otomatis', 'diterima')"  # padan decisions the marts may use

_LATEST = """
    SELECT * FROM (
        SELECT v.*, ROW_NUMBER() OVER (
            PARTITION BY v.nik, v._source ORDER BY v.updated_at DESC, v._recorded_at DESC
        ) AS rn
        FROM core.penduduk_versions v
    ) x WHERE rn = 1 AND NOT COALESCE(_deleted, FALSE)
"""


def _queries() -> list[tuple[str, str]]:
    """(finding, SQL returning nik, kode_desa, kolom, sumber). No values come from data."""
    latest = f"({_LATEST})"
    diff = " UNION ALL ".join(
        f"SELECT d.nik, d.kode_desa, '{c}' AS kolom, 'opensid/siak' AS sumber "
        f"FROM {latest} d JOIN {latest} s ON s.nik = d.nik "
        f"WHERE d._source = 'opensid' AND s._source = 'siak' "
        f"AND d.{c} IS NOT NULL AND s.{c} IS NOT NULL AND d.{c} <> s.{c}"
        for c in COMPARED
    )
    return [
        (
            "desa_tidak_di_siak",
            f"SELECT d.nik, d.kode_desa, NULL AS kolom, 'opensid' AS sumber FROM {latest} d "
            f"WHERE d._source = 'opensid' AND NOT EXISTS (SELECT 1 FROM {latest} s "
            f"WHERE s._source = 'siak' AND s.nik = d.nik)",
        ),
        (
            "siak_tidak_di_desa",
            f"SELECT s.nik, s.kode_desa, NULL AS kolom, 'siak' AS sumber FROM {latest} s "
            f"WHERE s._source = 'siak' AND COALESCE(s.status_dasar, '1') = '1' "
            f"AND s.kode_desa IN (SELECT DISTINCT kode_desa FROM {latest} o "
            f"WHERE o._source = 'opensid') "
            f"AND NOT EXISTS (SELECT 1 FROM {latest} d WHERE d._source = 'opensid' "
            f"AND d.nik = s.nik)",
        ),
        ("desa_siak_berbeda", diff),
        (
            "izin_nik_tidak_dikenal",
            "SELECT i.nik_pemohon AS nik, i.kode_desa, NULL AS kolom, i._source AS sumber "
            "FROM core.izin i WHERE i.nik_pemohon IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM core.penduduk p WHERE p.nik = i.nik_pemohon) "
            # padan NIK linked this permit's applicant (source oss) to a SIAK person: the NIK
            # is mistyped, reported as nik_tidak_padan instead
            f"AND NOT EXISTS (SELECT 1 FROM core.padan x WHERE x.nik_sumber = i.nik_pemohon "
            f"AND x.sumber = i._source AND x.keputusan IN {_LINKED})",
        ),
        (
            "meninggal_masih_menerima_bantuan",
            "SELECT DISTINCT b.nik, b.kode_desa, NULL AS kolom, b._source AS sumber "
            "FROM core.penerima_bantuan b JOIN core.penduduk p ON p.nik = b.nik "
            "WHERE p.status_dasar = '2' AND p._deleted_at IS NULL "
            # a mistyped NIK on the aid list: only record linkage finds the person
            "UNION SELECT DISTINCT x.nik_siak AS nik, x.kode_desa, NULL AS kolom, "
            "'padan:' || x.sumber AS sumber FROM core.padan x "
            "JOIN core.penduduk p ON p.nik = x.nik_siak "
            f"WHERE x.sumber = 'dinsos' AND x.keputusan IN {_LINKED} "
            "AND COALESCE(x.nik_sumber, '') <> x.nik_siak "
            "AND p.status_dasar = '2' AND p._deleted_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM core.penerima_bantuan b WHERE b.nik = x.nik_siak)",
        ),
        (
            "nik_tidak_padan",
            "SELECT DISTINCT x.nik_siak AS nik, x.kode_desa, 'nik' AS kolom, "
            "'padan:' || x.sumber AS sumber FROM core.padan x "
            f"WHERE x.keputusan IN {_LINKED} AND COALESCE(x.nik_sumber, '') <> x.nik_siak",
        ),
    ]


def build_reconciliation(wh: Warehouse) -> dict[str, int]:
    """Rebuild ``marts.rekonsiliasi`` in one transaction; returns findings per kind."""
    key = pseudonym_key()
    today = datetime.now(UTC).date()
    cols: dict[str, list[Any]] = {n: [] for n in SCHEMA.names}
    counts: dict[str, int] = {}
    with wh.begin() as conn:
        for temuan, sql in _queries():
            rows = conn.exec_driver_sql(sql).all()
            counts[temuan] = len(rows)
            for nik, kode_desa, kolom, sumber in rows:
                cols["temuan"].append(temuan)
                cols["pseudonim"].append(pseudonymise(nik, key, "nik"))
                cols["kode_desa"].append(kode_desa)
                cols["kolom"].append(kolom)
                cols["sumber"].append(sumber)
                cols["per_tanggal"].append(today)
        conn.exec_driver_sql("DELETE FROM marts.rekonsiliasi")
        wh.bulk_insert(conn, "marts.rekonsiliasi", pa.table(cols, schema=SCHEMA))
    return counts
