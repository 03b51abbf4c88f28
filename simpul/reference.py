"""Reference tables (regions, code lists) loaded into ``ref`` from the shipped CSVs.

Reloaded only when the files change (their SHA-256 is kept in ``ref.versions``), in one
transaction, so a correction to a code list is one edit in ``simpul/reference``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyarrow as pa
import sqlalchemy as sa

from simpul.domain.regions import REFERENCE_DIR, reference_rows
from simpul.warehouse.engine import Warehouse

WILAYAH_FILES = (
    ("idn_area_sumsel_16_provinces.csv", "provinsi", None),
    ("idn_area_sumsel_16_regencies.csv", "kabupaten", "province_code"),
    ("idn_area_sumsel_16_districts.csv", "kecamatan", "regency_code"),
    ("idn_area_sumsel_16_villages.csv", "desa", "district_code"),
)
CODES_FILE = "siak_reference_codes.csv"


def _digest(names: list[str]) -> str:
    h = hashlib.sha256()
    for n in names:
        h.update((REFERENCE_DIR / n).read_bytes())
    return h.hexdigest()


def load_reference(wh: Warehouse, force: bool = False) -> dict[str, int]:
    """Load ref.wilayah and ref.kode if their source files changed; returns rows loaded."""
    files = [f for f, _, _ in WILAYAH_FILES] + [CODES_FILE]
    digest = _digest(files)
    loaded: dict[str, int] = {}
    with wh.begin() as conn:
        current = conn.execute(
            sa.text("select sha256 from ref.versions where name = 'reference'")
        ).scalar()
        if current == digest and not force:
            return loaded
        rows: dict[str, list] = {"kode": [], "tingkat": [], "kode_induk": [], "nama": []}
        for name, level, parent in WILAYAH_FILES:
            for r in reference_rows(name):
                rows["kode"].append(r["code"])
                rows["tingkat"].append(level)
                rows["kode_induk"].append(r[parent] if parent else None)
                rows["nama"].append(r["name"])
        codes = reference_rows(CODES_FILE)
        kode = pa.table(
            {
                "daftar": [r["list"] for r in codes],
                "kode": [r["code"] for r in codes],
                "label": [r["label"] for r in codes],
                "sumber": [r["source"] for r in codes],
            }
        )
        conn.exec_driver_sql("DELETE FROM ref.wilayah")
        conn.exec_driver_sql("DELETE FROM ref.kode")
        loaded["ref.wilayah"] = wh.bulk_insert(conn, "ref.wilayah", pa.table(rows))
        loaded["ref.kode"] = wh.bulk_insert(conn, "ref.kode", kode)
        conn.execute(sa.text("DELETE FROM ref.versions WHERE name = 'reference'"))
        conn.execute(
            sa.text("INSERT INTO ref.versions VALUES ('reference', :h, :t)"),
            {"h": digest, "t": datetime.now(UTC)},
        )
    return loaded
