"""Every rule of the keluarga suite has a passing and a failing record."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.expectations.suite_helpers import check_suite

GOOD = [
    {
        "no_kk": f"16080101011000{i:02d}",
        "nik_kepala": f"16080115079000{i:02d}",
        "kode_desa": "16.08.01.2006",
        "dusun": "DUSUN I",
        "rw": "001",
        "rt": "002",
        "alamat": "JL. CONTOH",
        "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
    }
    for i in range(1, 4)
]
FAILING = {
    "no_kk_required": {"no_kk": None},
    "no_kk_structure": {"no_kk": "160801010110001"},
    "no_kk_unique": "duplicate",
    "no_kk_parts": {"no_kk": "1608013213100009"},
    "nik_kepala_structure": {"nik_kepala": "1608011507900000"},
    "nik_kepala_required": {"nik_kepala": None},
    "kode_desa_format": {"kode_desa": "1608012006"},
    "kode_desa_in_kabupaten": {"kode_desa": "16.01.07.2001"},
}


def test_keluarga_suite() -> None:
    check_suite("keluarga", GOOD, FAILING)
