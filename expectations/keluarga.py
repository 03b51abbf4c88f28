"""Expectation suite for canonical ``keluarga`` (family cards), same pattern as penduduk:
*error* quarantines the row, *warn* loads and reports it."""

from __future__ import annotations

from expectations.common import (
    kode_desa_checks,
    nik_structure,
    no_kk_parts,
    no_kk_structure,
    not_null,
    unique,
)
from simpul.validate import Check


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        not_null(
            "no_kk_required", "no_kk", "family card number (no_kk) is empty", "nomor KK kosong"
        ),
        no_kk_structure(),
        unique(
            "no_kk_unique",
            "no_kk",
            "the same family card number appears twice in this delivery",
            "nomor KK yang sama muncul dua kali dalam kiriman ini",
        ),
        no_kk_parts(),
        nik_structure(
            "nik_kepala",
            "NIK of the head of family is not a valid 16-digit NIK",
            "NIK kepala keluarga bukan NIK 16 digit yang sah",
        ),
        not_null(
            "nik_kepala_required",
            "nik_kepala",
            "the family card names no head of family",
            "KK tidak mencantumkan kepala keluarga",
            "warn",
        ),
        *kode_desa_checks(kabupaten),
    ]
