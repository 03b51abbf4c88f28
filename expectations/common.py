"""Checks that several suites share (required, unique and coded columns, NIK, KK, dates, region
codes), written once so that a fix to a rule or its wording lands in every suite.

A check names its GX expectation by type and kwargs (:func:`simpul.validate.expect`): building a
suite imports no Great Expectations; the GX object is made only where GX runs.
"""

from __future__ import annotations

from simpul.validate import Check, Severity, expect

KODE_DESA_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"
NIK_STRUCTURE_EN = "NIK is not a valid 16-digit NIK (region, date of birth, serial)"
NIK_STRUCTURE_ID = "NIK bukan NIK 16 digit yang sah (kode wilayah, tanggal lahir, nomor urut)"


def not_null(
    rule: str, column: str, reason_en: str, reason_id: str, severity: Severity = "error"
) -> Check:
    """The column must be filled (GX counts an unreadable value as empty too)."""
    expectation = expect("expect_column_values_to_not_be_null", column=column)
    return Check(rule, severity, column, expectation, reason_en, reason_id)


def unique(rule: str, column: str, reason_en: str, reason_id: str) -> Check:
    """Error: the same key twice in one delivery."""
    expectation = expect("expect_column_values_to_be_unique", column=column)
    return Check(rule, "error", column, expectation, reason_en, reason_id)


def key_checks(rule_prefix: str, column: str, what_en: str, what_id: str) -> list[Check]:
    """A record's key: present, and once per delivery (``what`` names it: "permit number")."""
    return [
        not_null(f"{rule_prefix}_required", column, f"{what_en} is empty", f"{what_id} kosong"),
        unique(
            f"{rule_prefix}_unique",
            column,
            f"the same {what_en} appears twice in this delivery",
            f"{what_id} yang sama muncul dua kali dalam kiriman ini",
        ),
    ]


def in_set(
    rule: str,
    column: str,
    values: list[str],
    reason_en: str,
    reason_id: str,
    severity: Severity = "error",
) -> Check:
    """The column holds one of ``values`` (a code list)."""
    expectation = expect("expect_column_values_to_be_in_set", column=column, value_set=values)
    return Check(rule, severity, column, expectation, reason_en, reason_id)


def matches(
    rule: str,
    column: str,
    regex: str,
    reason_en: str,
    reason_id: str,
    severity: Severity = "error",
) -> Check:
    """The column's text matches ``regex``."""
    expectation = expect("expect_column_values_to_match_regex", column=column, regex=regex)
    return Check(rule, severity, column, expectation, reason_en, reason_id)


def nik_structure(
    column: str = "nik", reason_en: str = NIK_STRUCTURE_EN, reason_id: str = NIK_STRUCTURE_ID
) -> Check:
    """Error: not a valid NIK (16 digits, region, date of birth, serial)."""
    expectation = expect("expect_column_values_to_be_valid_nik", column=column)
    return Check(f"{column}_structure", "error", column, expectation, reason_en, reason_id)


def nik_checks(empty_en: str = "NIK is empty", empty_id: str = "NIK kosong") -> list[Check]:
    """A person's NIK: present and structurally valid."""
    return [not_null("nik_required", "nik", empty_en, empty_id), nik_structure()]


def no_kk_structure(severity: Severity = "error") -> Check:
    """A family card number of 16 digits."""
    return matches(
        "no_kk_structure",
        "no_kk",
        r"^\d{16}$",
        "family card number (no_kk) is not 16 digits",
        "nomor KK tidak 16 digit",
        severity,
    )


def no_kk_parts() -> Check:
    """Warning: the KK's region, issue date or serial looks wrong."""
    return Check(
        "no_kk_parts",
        "warn",
        "no_kk",
        expect("expect_column_values_to_be_valid_kk", column="no_kk"),
        "no_kk region, issue date or serial looks wrong",
        "kode wilayah, tanggal terbit atau nomor urut pada nomor KK tampak salah",
    )


def date_range(column: str, earliest: str, reason_en: str, reason_id: str) -> Check:
    """Error: a date in the future or before ``earliest``."""
    expectation = expect(
        "expect_column_values_to_be_date_not_in_future", column=column, earliest=earliest
    )
    return Check(f"{column}_range", "error", column, expectation, reason_en, reason_id)


def not_before(rule: str, later: str, earlier: str, reason_en: str, reason_id: str) -> Check:
    """Error: date ``later`` lies before date ``earlier`` (rows missing either pass)."""
    expectation = expect(
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    return Check(rule, "error", later, expectation, reason_en, reason_id)


def kode_desa_checks(
    kabupaten: str,
    column: str = "kode_desa",
    outside_en: str = "village is outside this kabupaten",
    outside_id: str = "desa berada di luar kabupaten ini",
) -> list[Check]:
    """Error: not a Kemendagri village code. Warning: a village outside this kabupaten."""
    return [
        kode_desa_format_check(column),
        matches(
            f"{column}_in_kabupaten",
            column,
            "^" + kabupaten.replace(".", r"\."),
            outside_en,
            outside_id,
            "warn",
        ),
    ]


def kode_desa_format_check(column: str = "kode_desa") -> Check:
    """Only the format check, for entities whose villages may lie anywhere."""
    return matches(
        f"{column}_format",
        column,
        KODE_DESA_REGEX,
        "village code is not a Kemendagri code (PP.KK.CC.VVVV)",
        "kode desa bukan kode Kemendagri (PP.KK.CC.VVVV)",
    )
