"""Every rule of the peristiwa suite has a passing and a failing record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.expectations.suite_helpers import check_suite

GOOD = [
    {
        "id_peristiwa": f"PST0000000{i}",
        "nik": f"16080115079000{i:02d}",
        "no_kk": f"16080101011000{i:02d}",
        "kode_peristiwa": str(i),
        "tanggal_peristiwa": date(2025, 3, i),
        "kode_desa": "16.08.01.2006",
        "kode_wilayah_lain": None,
        "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
    }
    for i in range(1, 4)
]
FAILING = {
    "id_peristiwa_required": {"id_peristiwa": None},
    "id_peristiwa_unique": "duplicate",
    "nik_required": {"nik": None},
    "nik_structure": {"nik": "1608011507900000"},
    "no_kk_structure": {"no_kk": "12345"},
    "kode_peristiwa_required": {"kode_peristiwa": None},
    "kode_peristiwa_code": {"kode_peristiwa": "9"},
    "tanggal_peristiwa_required": {"tanggal_peristiwa": None},
    "tanggal_peristiwa_range": {"tanggal_peristiwa": date.today() + timedelta(days=30)},
    "kode_desa_format": {"kode_desa": "1608012006"},
    "kode_desa_in_kabupaten": {"kode_desa": "16.01.07.2001"},
}


def test_peristiwa_suite() -> None:
    check_suite("peristiwa", GOOD, FAILING)
