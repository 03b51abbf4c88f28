"""Expectation suite for canonical ``izin`` (OSS-RBA business permits): NIB 13 digits, KBLI a
5-digit string (a cut leading zero is an error, not something to guess back), a known risk
level, issued on or before expiry, and no issue date in the future."""

from __future__ import annotations

from expectations.common import (
    date_range,
    in_set,
    key_checks,
    kode_desa_checks,
    matches,
    nik_structure,
    not_before,
    not_null,
)
from simpul.validate import Check

RISK_LEVELS = ["menengah rendah", "menengah tinggi", "rendah", "tinggi"]
STATUSES = ["dicabut", "diterima", "ditolak", "perlu_perbaikan", "terbit", "verifikasi"]


def _identity_checks() -> list[Check]:
    """Who and what: the permit number, the business's NIB and its KBLI code."""
    return [
        *key_checks("nomor_izin", "nomor_izin", "permit number", "nomor izin"),
        not_null("nib_required", "nib", "NIB is empty", "NIB kosong"),
        matches(
            "nib_structure",
            "nib",
            r"^\d{13}$",
            "NIB (Nomor Induk Berusaha) is not 13 digits",
            "NIB (Nomor Induk Berusaha) tidak 13 digit",
        ),
        matches(
            "kbli_structure",
            "kbli",
            r"^\d{5}$",
            "KBLI is not a 5-digit code (a leading zero lost in Excel?)",
            "KBLI bukan kode 5 digit (angka nol di depan hilang di Excel?)",
        ),
        not_null("kbli_required", "kbli", "KBLI is empty", "KBLI kosong"),
    ]


def _status_checks() -> list[Check]:
    """The permit's risk level and status, from OSS's own code lists."""
    return [
        in_set(
            "tingkat_risiko_code",
            "tingkat_risiko",
            RISK_LEVELS,
            "risk level is not rendah, menengah rendah, menengah tinggi or tinggi",
            "tingkat risiko bukan rendah, menengah rendah, menengah tinggi atau tinggi",
        ),
        not_null(
            "tingkat_risiko_required",
            "tingkat_risiko",
            "risk level is empty or unknown",
            "tingkat risiko kosong atau tidak dikenal",
        ),
        in_set(
            "status_code",
            "status",
            STATUSES,
            "permit status is not a known OSS status",
            "status izin bukan status OSS yang dikenal",
            "warn",
        ),
    ]


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        *_identity_checks(),
        *_status_checks(),
        nik_structure(
            "nik_pemohon",
            "applicant's NIK is not a valid 16-digit NIK",
            "NIK pemohon bukan NIK 16 digit yang sah",
        ),
        date_range(
            "tanggal_terbit",
            "1990-01-01",
            "issue date is in the future or before 1990",
            "tanggal terbit di masa depan atau sebelum 1990",
        ),
        not_before(
            "terbit_before_berlaku_sampai",
            "tanggal_berlaku_sampai",
            "tanggal_terbit",
            "permit expires before it was issued",
            "masa berlaku izin berakhir sebelum tanggal terbit",
        ),
        *kode_desa_checks(
            kabupaten,
            outside_en="business location is outside this kabupaten",
            outside_id="lokasi usaha berada di luar kabupaten ini",
        ),
    ]
