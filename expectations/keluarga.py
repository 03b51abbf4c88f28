"""Expectation suite for canonical ``keluarga`` (family cards), same pattern as penduduk:
*error* quarantines the row, *warn* loads and reports it."""

from __future__ import annotations

from expectations.common import kode_desa_checks
from simpul.validate import Check


def checks(kabupaten: str = "16.08") -> list[Check]:
    import great_expectations.expectations as gxe

    from expectations.custom import ExpectColumnValuesToBeValidKk, ExpectColumnValuesToBeValidNik

    return [
        Check(
            "no_kk_required",
            "error",
            "no_kk",
            gxe.ExpectColumnValuesToNotBeNull(column="no_kk"),
            "family card number (no_kk) is empty",
            "nomor KK kosong",
        ),
        Check(
            "no_kk_structure",
            "error",
            "no_kk",
            gxe.ExpectColumnValuesToMatchRegex(column="no_kk", regex=r"^\d{16}$"),
            "family card number (no_kk) is not 16 digits",
            "nomor KK tidak 16 digit",
        ),
        Check(
            "no_kk_unique",
            "error",
            "no_kk",
            gxe.ExpectColumnValuesToBeUnique(column="no_kk"),
            "the same family card number appears twice in this delivery",
            "nomor KK yang sama muncul dua kali dalam kiriman ini",
        ),
        Check(
            "no_kk_parts",
            "warn",
            "no_kk",
            ExpectColumnValuesToBeValidKk(column="no_kk"),
            "no_kk region, issue date or serial looks wrong",
            "kode wilayah, tanggal terbit atau nomor urut pada nomor KK tampak salah",
        ),
        Check(
            "nik_kepala_structure",
            "error",
            "nik_kepala",
            ExpectColumnValuesToBeValidNik(column="nik_kepala"),
            "NIK of the head of family is not a valid 16-digit NIK",
            "NIK kepala keluarga bukan NIK 16 digit yang sah",
        ),
        Check(
            "nik_kepala_required",
            "warn",
            "nik_kepala",
            gxe.ExpectColumnValuesToNotBeNull(column="nik_kepala"),
            "the family card names no head of family",
            "KK tidak mencantumkan kepala keluarga",
        ),
        *kode_desa_checks(kabupaten),
    ]
