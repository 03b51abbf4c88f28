"""Checks that several suites share (region codes, NIK), written once so that a fix to a rule
or its wording lands in every suite."""

from __future__ import annotations

from simpul.validate import Check

KODE_DESA_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"


def kode_desa_checks(
    kabupaten: str,
    column: str = "kode_desa",
    outside_en: str = "village is outside this kabupaten",
    outside_id: str = "desa berada di luar kabupaten ini",
) -> list[Check]:
    """Error: not a Kemendagri village code. Warning: a village outside this kabupaten."""
    import great_expectations.expectations as gxe

    return [
        Check(
            f"{column}_format",
            "error",
            column,
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=KODE_DESA_REGEX),
            "village code is not a Kemendagri code (PP.KK.CC.VVVV)",
            "kode desa bukan kode Kemendagri (PP.KK.CC.VVVV)",
        ),
        Check(
            f"{column}_in_kabupaten",
            "warn",
            column,
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex="^" + kabupaten.replace(".", r"\.")
            ),
            outside_en,
            outside_id,
        ),
    ]


def kode_desa_format_check(column: str = "kode_desa") -> Check:
    """Only the format check, for entities whose villages may lie anywhere."""
    return kode_desa_checks("", column)[0]
