"""Small hand-written SIAK web-service rows for unit tests (fictional people)."""

from __future__ import annotations

from datetime import date


def siak_row(
    nik: str = "1608014101900001",
    *,
    born: date = date(1990, 1, 1),
    female: bool = True,
    name: str = "SITI CONTOH",
    desa: str = "2006",
    updated: str = "2026-10-01T08:00:00Z",
    **overrides: str | None,
) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "NIK": nik,
        "NO_KK": "1608010101100001",
        "NAMA_LGKP": name,
        "JENIS_KLMIN": "PEREMPUAN" if female else "LAKI-LAKI",
        "TMPT_LHR": "MARTAPURA",
        "TGL_LHR": born.strftime("%d-%m-%Y"),
        "AGAMA": "ISLAM",
        "STATUS_KAWIN": "KAWIN TERCATAT",
        "STAT_HBKEL": "ISTRI" if female else "KEPALA KELUARGA",
        "PDDK_AKH": "SLTA / SEDERAJAT",
        "JENIS_PKRJN": "PETANI/PEKEBUN",
        "GOL_DARAH": "O",
        "NIK_AYAH": None,
        "NAMA_LGKP_AYAH": "AYAH CONTOH",
        "NIK_IBU": None,
        "NAMA_LGKP_IBU": "IBU CONTOH",
        "NO_PROP": "16",
        "NO_KAB": "08",
        "NO_KEC": "01",
        "NO_KEL": desa,
        "PROP_NAME": "SUMATERA SELATAN",
        "KAB_NAME": "OGAN KOMERING ULU TIMUR",
        "KEC_NAME": "MARTAPURA",
        "KEL_NAME": "TANJUNG KEMALA",
        "DUSUN": "DUSUN I",
        "ALAMAT": "JL. CONTOH NO. 1",
        "NO_RT": "002",
        "NO_RW": "001",
        "STATUS": "HIDUP",
        "UPDATED_AT": updated,
    }
    row.update(overrides)
    return row


def person(
    i: int,
    *,
    female: bool | None = None,
    updated: str = "2026-10-01T08:00:00Z",
    **overrides: str | None,
) -> dict[str, str | None]:
    """The i-th distinct valid person (i >= 1)."""
    female = (i % 2 == 0) if female is None else female
    born = date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
    day = born.day + (40 if female else 0)
    nik = f"160801{day:02d}{born.month:02d}{born.year % 100:02d}{i:04d}"
    return siak_row(nik, born=born, female=female, name=f"WARGA {i}", updated=updated, **overrides)
