"""Every rule of the izin suite has a passing and a failing record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from simpul.mapping import Mapper, load_mapping
from tests.expectations.suite_helpers import check_suite

GOOD = [
    {
        "nomor_izin": f"503/0000{i}/DPMPTSP/2024",
        "nib": f"912000000000{i}",
        "kbli": "01121",
        "judul_kbli": "Pertanian padi",
        "tingkat_risiko": "rendah",
        "status": "terbit",
        "nik_pemohon": f"16080115079000{i:02d}",
        "kode_desa": "16.08.01.2006",
        "tanggal_terbit": date(2024, 1, i),
        "tanggal_berlaku_sampai": date(2029, 1, i) if i > 1 else None,
        "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
    }
    for i in range(1, 4)
]
FAILING = {
    "nomor_izin_required": {"nomor_izin": None},
    "nomor_izin_unique": "duplicate",
    "nib_required": {"nib": None},
    "nib_structure": {"nib": "91200000001"},
    "kbli_structure": {"kbli": "1121"},
    "kbli_required": {"kbli": None},
    "tingkat_risiko_code": {"tingkat_risiko": "sedang"},
    "tingkat_risiko_required": {"tingkat_risiko": None},
    "status_code": {"status": "aktif?"},
    "nik_pemohon_structure": {"nik_pemohon": "1608011507900000"},
    "tanggal_terbit_range": {"tanggal_terbit": date.today() + timedelta(days=30)},
    "terbit_before_berlaku_sampai": {"tanggal_berlaku_sampai": date(2023, 1, 1)},
    "kode_desa_format": {"kode_desa": "1608012006"},
    "kode_desa_in_kabupaten": {"kode_desa": "16.01.07.2001"},
}


def test_izin_suite() -> None:
    check_suite("izin", GOOD, FAILING)


def test_oss_mapping_keeps_kbli_text_and_reads_mixed_dates() -> None:
    raw = pd.DataFrame(
        [
            {
                "nomor_izin": "503/00001/DPMPTSP/2021",
                "nib": "'9127515539704",
                "kbli": "01262",
                "judul_kbli": "Perkebunan",
                "tingkat_risiko": "Menengah Rendah",
                "status": "terbit",
                "nik_pemohon": "1608010901803915",
                "kode_desa": "16.08.01.2006",
                "tanggal_terbit": "03/04/2021",
                "tanggal_berlaku_sampai": "2026-04-03",
                "updated_at": "2021-04-03T07:03:39Z",
            }
        ]
    ).astype("string")
    table, issues = Mapper(load_mapping("oss_izin")).apply(raw, pd.Series([1]))
    assert issues == []
    row = table.to_pylist()[0]
    assert row["nib"] == "9127515539704" and row["kbli"] == "01262"
    assert row["tingkat_risiko"] == "menengah rendah"
    assert row["tanggal_terbit"] == date(2021, 4, 3)
