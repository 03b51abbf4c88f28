"""Expectation suite for canonical ``penduduk``, with a severity and bilingual reason per check.

*error* quarantines the row; *warn* loads it and reports it. Code lists come from the shipped
reference table, so a code-list correction is one edit there, not here.
"""

from __future__ import annotations

from expectations.common import (
    date_range,
    in_set,
    kode_desa_checks,
    nik_checks,
    no_kk_parts,
    no_kk_structure,
    not_null,
)
from simpul.domain.regions import code_lists
from simpul.validate import Check, expect

NIK_BIRTH_COLUMNS = ["nik", "tanggal_lahir", "jenis_kelamin"]

# column, its code list, whether it is required
CODED_COLUMNS = (
    ("jenis_kelamin", "jenis_kelamin", True),
    ("agama", "agama", False),
    ("status_perkawinan", "status_perkawinan_f101_2019", False),
    ("shdk", "status_hubungan_dalam_keluarga", False),
    ("pendidikan", "pendidikan_dalam_kk", False),
    ("pekerjaan", "jenis_pekerjaan", False),
    ("golongan_darah", "golongan_darah", False),
    ("status_dasar", "status_dasar_opensid", True),
)


def _nik_person_checks(kabupaten: str) -> list[Check]:
    """The NIK against the person: birth date and sex, one holder, region, temporary NIKs."""
    return [
        Check(
            "nik_birth_agreement",
            "error",
            "nik",
            expect(
                "expect_nik_to_agree_with_birth_date_and_sex",
                column_list=NIK_BIRTH_COLUMNS,
                ignore_row_if="never",
            ),
            "NIK date part does not match date of birth and sex (day + 40 for women)",
            "bagian tanggal NIK tidak sesuai tanggal lahir dan jenis kelamin (tanggal + 40 "
            "untuk perempuan)",
        ),
        Check(
            "nik_unique",
            "error",
            "nik",
            expect(
                "expect_nik_to_be_unique_or_owned",
                column_list=NIK_BIRTH_COLUMNS,
                ignore_row_if="never",
            ),
            "the same NIK appears on more than one record in this delivery (and its date of "
            "birth and sex do not single this record out as the holder)",
            "NIK yang sama muncul pada lebih dari satu data dalam kiriman ini (dan tanggal lahir "
            "serta jenis kelamin tidak menunjukkan data ini sebagai pemiliknya)",
        ),
        _excel_truncated_nik(),
        Check(
            "nik_region",
            "warn",
            "nik",
            expect(
                "expect_nik_to_be_registered_in_region",
                column="nik",
                prefix=kabupaten.replace(".", ""),
            ),
            "NIK was first registered outside this kabupaten",
            "NIK pertama kali terdaftar di luar kabupaten ini",
        ),
        Check(
            "nik_temporary",
            "warn",
            "nik",
            expect("expect_column_values_to_not_be_temporary_nik", column="nik"),
            "temporary village NIK (OpenSID): not yet registered in SIAK",
            "NIK sementara dari desa (OpenSID): belum terdaftar di SIAK",
        ),
    ]


def _excel_truncated_nik() -> Check:
    """Error: a NIK whose 16th digit a family member's record shows Excel cut off."""
    return Check(
        "nik_excel_truncated",
        "error",
        "nik",
        expect(
            "expect_nik_to_not_be_excel_truncated",
            column_list=["nik", "nik_ayah", "nik_ibu"],
            ignore_row_if="never",
        ),
        "NIK ends in 0 where a family member's record has the same NIK with another last "
        "digit: the 16th digit was lost to Excel's 15-digit precision",
        "NIK berakhir 0 sedangkan data anggota keluarga memuat NIK yang sama dengan digit "
        "terakhir lain: digit ke-16 hilang karena presisi 15 digit Excel",
    )


def _family_checks() -> list[Check]:
    """The family card and the person's place in it."""
    return [
        no_kk_structure(),
        no_kk_parts(),
        date_range(
            "tanggal_lahir",
            "1900-01-01",
            "date of birth is in the future or before 1900",
            "tanggal lahir di masa depan atau sebelum 1900",
        ),
        Check(
            "shdk_age",
            "warn",
            "shdk",
            expect(
                "expect_shdk_to_fit_age",
                column_list=["shdk", "tanggal_lahir"],
                ignore_row_if="never",
            ),
            "family role (head, spouse, in-law) does not fit an age under 15",
            "status hubungan dalam keluarga (kepala, suami/istri, menantu, mertua) tidak sesuai "
            "usia di bawah 15 tahun",
        ),
        Check(
            "no_kk_excel_zeroed",
            "warn",
            "no_kk",
            expect(
                "expect_kk_to_not_be_excel_truncated",
                column_list=["no_kk", "kode_desa"],
                ignore_row_if="never",
            ),
            "no_kk ends in 0 while family members in the same village carry it with another last "
            "digit: probably cut by Excel's 15-digit precision",
            "nomor KK berakhir 0 sedangkan anggota keluarga di desa yang sama memakainya dengan "
            "digit terakhir lain: kemungkinan terpotong presisi 15 digit Excel",
        ),
    ]


def _code_checks() -> list[Check]:
    """Each coded column holds a code of its reference list; some must be filled."""
    lists = code_lists()
    out = []
    for column, code_list, required in CODED_COLUMNS:
        out.append(
            in_set(
                f"{column}_code",
                column,
                sorted(lists[code_list]),
                f"{column} is not a code of list {code_list}",
                f"{column} bukan kode pada daftar {code_list}",
            )
        )
        if required:
            out.append(
                not_null(f"{column}_required", column, f"{column} is empty", f"{column} kosong")
            )
    return out


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        *nik_checks(),
        *_nik_person_checks(kabupaten),
        *_family_checks(),
        not_null("nama_required", "nama_lengkap", "name is empty", "nama kosong"),
        not_null(
            "tanggal_lahir_required",
            "tanggal_lahir",
            "date of birth is empty or unreadable",
            "tanggal lahir kosong atau tidak terbaca",
        ),
        *kode_desa_checks(kabupaten),
        *_code_checks(),
    ]
