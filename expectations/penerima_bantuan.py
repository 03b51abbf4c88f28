"""Expectation suite for canonical ``penerima_bantuan`` (Dinas Sosial recipient lists).

Whether a recipient is alive and registered is a cross-agency question answered in the
warehouse (the Dinas Sosial exchange dataset); this suite checks the delivery itself.
"""

from __future__ import annotations

from expectations.common import in_set, kode_desa_format_check, matches, nik_checks, no_kk_structure
from simpul.validate import Check, expect

PROGRAMS = ["BLT-DD", "BPNT", "PBI-JK", "PKH"]


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        *nik_checks(),
        Check(
            "recipient_unique",
            "error",
            "nik",
            expect(
                "expect_compound_columns_to_be_unique", column_list=["nik", "program", "periode"]
            ),
            "the same NIK appears twice for one programme and period",
            "NIK yang sama muncul dua kali untuk satu program dan periode",
        ),
        no_kk_structure(),
        in_set(
            "program_known",
            "program",
            PROGRAMS,
            "unknown assistance programme",
            "program bantuan tidak dikenal",
        ),
        matches(
            "periode_format",
            "periode",
            r"^\d{4}-(?:Q[1-4]|\d{2})$",
            "period is not YYYY-Qn or YYYY-MM",
            "periode bukan TTTT-Qn atau TTTT-BB",
        ),
        kode_desa_format_check(),
        Check(
            "nominal_positive",
            "warn",
            "nominal",
            expect("expect_column_values_to_be_between", column="nominal", min_value=1),
            "amount is zero or negative",
            "nominal nol atau negatif",
        ),
    ]
