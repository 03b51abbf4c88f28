"""Expectation suite for canonical ``keluarga`` (family cards), same pattern as penduduk:
*error* quarantines the row, *warn* loads and reports it."""

from __future__ import annotations

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
        Check(
            "kode_desa_format",
            "error",
            "kode_desa",
            gxe.ExpectColumnValuesToMatchRegex(
                column="kode_desa", regex=r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"
            ),
            "village code is not a Kemendagri code (PP.KK.CC.VVVV)",
            "kode desa bukan kode Kemendagri (PP.KK.CC.VVVV)",
        ),
        Check(
            "kode_desa_in_kabupaten",
            "warn",
            "kode_desa",
            gxe.ExpectColumnValuesToMatchRegex(
                column="kode_desa", regex="^" + kabupaten.replace(".", r"\.")
            ),
            "village is outside this kabupaten",
            "desa berada di luar kabupaten ini",
        ),
    ]
