"""Expectation suite for canonical ``izin`` (OSS-RBA business permits): NIB 13 digits, KBLI a
5-digit string (a cut leading zero is an error, not something to guess back), a known risk
level, issued on or before expiry, and no issue date in the future."""

from __future__ import annotations

from expectations.common import kode_desa_checks
from simpul.validate import Check

RISK_LEVELS = ["menengah rendah", "menengah tinggi", "rendah", "tinggi"]
STATUSES = ["dicabut", "diterima", "ditolak", "perlu_perbaikan", "terbit", "verifikasi"]


def checks(kabupaten: str = "16.08") -> list[Check]:
    import great_expectations.expectations as gxe

    from expectations.custom import (
        ExpectColumnValuesToBeDateNotInFuture,
        ExpectColumnValuesToBeValidNik,
    )

    return [
        Check(
            "nomor_izin_required",
            "error",
            "nomor_izin",
            gxe.ExpectColumnValuesToNotBeNull(column="nomor_izin"),
            "permit number is empty",
            "nomor izin kosong",
        ),
        Check(
            "nomor_izin_unique",
            "error",
            "nomor_izin",
            gxe.ExpectColumnValuesToBeUnique(column="nomor_izin"),
            "the same permit number appears twice in this delivery",
            "nomor izin yang sama muncul dua kali dalam kiriman ini",
        ),
        Check(
            "nib_required",
            "error",
            "nib",
            gxe.ExpectColumnValuesToNotBeNull(column="nib"),
            "NIB is empty",
            "NIB kosong",
        ),
        Check(
            "nib_structure",
            "error",
            "nib",
            gxe.ExpectColumnValuesToMatchRegex(column="nib", regex=r"^\d{13}$"),
            "NIB (Nomor Induk Berusaha) is not 13 digits",
            "NIB (Nomor Induk Berusaha) tidak 13 digit",
        ),
        Check(
            "kbli_structure",
            "error",
            "kbli",
            gxe.ExpectColumnValuesToMatchRegex(column="kbli", regex=r"^\d{5}$"),
            "KBLI is not a 5-digit code (a leading zero lost in Excel?)",
            "KBLI bukan kode 5 digit (angka nol di depan hilang di Excel?)",
        ),
        Check(
            "kbli_required",
            "error",
            "kbli",
            gxe.ExpectColumnValuesToNotBeNull(column="kbli"),
            "KBLI is empty",
            "KBLI kosong",
        ),
        Check(
            "tingkat_risiko_code",
            "error",
            "tingkat_risiko",
            gxe.ExpectColumnValuesToBeInSet(column="tingkat_risiko", value_set=RISK_LEVELS),
            "risk level is not rendah, menengah rendah, menengah tinggi or tinggi",
            "tingkat risiko bukan rendah, menengah rendah, menengah tinggi atau tinggi",
        ),
        Check(
            "tingkat_risiko_required",
            "error",
            "tingkat_risiko",
            gxe.ExpectColumnValuesToNotBeNull(column="tingkat_risiko"),
            "risk level is empty or unknown",
            "tingkat risiko kosong atau tidak dikenal",
        ),
        Check(
            "status_code",
            "warn",
            "status",
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
            "permit status is not a known OSS status",
            "status izin bukan status OSS yang dikenal",
        ),
        Check(
            "nik_pemohon_structure",
            "error",
            "nik_pemohon",
            ExpectColumnValuesToBeValidNik(column="nik_pemohon"),
            "applicant's NIK is not a valid 16-digit NIK",
            "NIK pemohon bukan NIK 16 digit yang sah",
        ),
        Check(
            "tanggal_terbit_range",
            "error",
            "tanggal_terbit",
            ExpectColumnValuesToBeDateNotInFuture(column="tanggal_terbit", earliest="1990-01-01"),
            "issue date is in the future or before 1990",
            "tanggal terbit di masa depan atau sebelum 1990",
        ),
        Check(
            "terbit_before_berlaku_sampai",
            "error",
            "tanggal_berlaku_sampai",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="tanggal_berlaku_sampai",
                column_B="tanggal_terbit",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            "permit expires before it was issued",
            "masa berlaku izin berakhir sebelum tanggal terbit",
        ),
        *kode_desa_checks(
            kabupaten,
            outside_en="business location is outside this kabupaten",
            outside_id="lokasi usaha berada di luar kabupaten ini",
        ),
    ]
