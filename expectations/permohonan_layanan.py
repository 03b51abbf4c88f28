"""Expectation suite for canonical ``permohonan_layanan`` (PATEN applications)."""

from __future__ import annotations

from expectations.common import (
    in_set,
    key_checks,
    kode_desa_checks,
    nik_structure,
    not_before,
    not_null,
)
from simpul.validate import Check

STATUSES = ["dicabut", "diterima", "ditolak", "perlu_perbaikan", "terbit", "verifikasi"]


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        *key_checks("id", "id_permohonan", "application number", "nomor permohonan"),
        nik_structure(
            "nik_pemohon",
            "applicant NIK is not a valid 16-digit NIK",
            "NIK pemohon bukan NIK 16 digit yang sah",
        ),
        in_set(
            "status_known",
            "status",
            STATUSES,
            "unknown application status",
            "status permohonan tidak dikenal",
        ),
        not_null(
            "diterima_required",
            "tanggal_diterima",
            "date received is empty or unreadable",
            "tanggal diterima kosong atau tidak terbaca",
        ),
        not_before(
            "selesai_after_diterima",
            "tanggal_selesai",
            "tanggal_diterima",
            "decided before it was received",
            "selesai sebelum diterima",
        ),
        *kode_desa_checks(kabupaten),
    ]
