"""Expectation suite for canonical ``permohonan_layanan`` (PATEN applications)."""

from __future__ import annotations

from expectations.common import kode_desa_checks
from simpul.validate import Check

STATUSES = ["dicabut", "diterima", "ditolak", "perlu_perbaikan", "terbit", "verifikasi"]


def checks(kabupaten: str = "16.08") -> list[Check]:
    import great_expectations.expectations as gxe

    from expectations.custom import ExpectColumnValuesToBeValidNik

    return [
        Check(
            "id_required",
            "error",
            "id_permohonan",
            gxe.ExpectColumnValuesToNotBeNull(column="id_permohonan"),
            "application number is empty",
            "nomor permohonan kosong",
        ),
        Check(
            "id_unique",
            "error",
            "id_permohonan",
            gxe.ExpectColumnValuesToBeUnique(column="id_permohonan"),
            "the same application number appears twice in this delivery",
            "nomor permohonan yang sama muncul dua kali dalam kiriman ini",
        ),
        Check(
            "nik_pemohon_structure",
            "error",
            "nik_pemohon",
            ExpectColumnValuesToBeValidNik(column="nik_pemohon"),
            "applicant NIK is not a valid 16-digit NIK",
            "NIK pemohon bukan NIK 16 digit yang sah",
        ),
        Check(
            "status_known",
            "error",
            "status",
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
            "unknown application status",
            "status permohonan tidak dikenal",
        ),
        Check(
            "diterima_required",
            "error",
            "tanggal_diterima",
            gxe.ExpectColumnValuesToNotBeNull(column="tanggal_diterima"),
            "date received is empty or unreadable",
            "tanggal diterima kosong atau tidak terbaca",
        ),
        Check(
            "selesai_after_diterima",
            "error",
            "tanggal_selesai",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="tanggal_selesai",
                column_B="tanggal_diterima",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            "decided before it was received",
            "selesai sebelum diterima",
        ),
        *kode_desa_checks(kabupaten),
    ]
