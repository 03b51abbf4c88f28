"""Expectation suite for canonical ``penerima_bantuan`` (Dinas Sosial recipient lists).

Whether a recipient is alive and registered is a cross-agency question answered in the
warehouse (the Dinas Sosial exchange dataset); this suite checks the delivery itself.
"""

from __future__ import annotations

from expectations.common import kode_desa_format_check
from simpul.validate import Check

PROGRAMS = ["BLT-DD", "BPNT", "PBI-JK", "PKH"]


def checks(kabupaten: str = "16.08") -> list[Check]:
    import great_expectations.expectations as gxe

    from expectations.custom import ExpectColumnValuesToBeValidNik

    return [
        Check(
            "nik_required",
            "error",
            "nik",
            gxe.ExpectColumnValuesToNotBeNull(column="nik"),
            "NIK is empty",
            "NIK kosong",
        ),
        Check(
            "nik_structure",
            "error",
            "nik",
            ExpectColumnValuesToBeValidNik(column="nik"),
            "NIK is not a valid 16-digit NIK (region, date of birth, serial)",
            "NIK bukan NIK 16 digit yang sah (kode wilayah, tanggal lahir, nomor urut)",
        ),
        Check(
            "recipient_unique",
            "error",
            "nik",
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["nik", "program", "periode"]),
            "the same NIK appears twice for one programme and period",
            "NIK yang sama muncul dua kali untuk satu program dan periode",
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
            "program_known",
            "error",
            "program",
            gxe.ExpectColumnValuesToBeInSet(column="program", value_set=PROGRAMS),
            "unknown assistance programme",
            "program bantuan tidak dikenal",
        ),
        Check(
            "periode_format",
            "error",
            "periode",
            gxe.ExpectColumnValuesToMatchRegex(column="periode", regex=r"^\d{4}-(?:Q[1-4]|\d{2})$"),
            "period is not YYYY-Qn or YYYY-MM",
            "periode bukan TTTT-Qn atau TTTT-BB",
        ),
        kode_desa_format_check(),
        Check(
            "nominal_positive",
            "warn",
            "nominal",
            gxe.ExpectColumnValuesToBeBetween(column="nominal", min_value=1),
            "amount is zero or negative",
            "nominal nol atau negatif",
        ),
    ]
