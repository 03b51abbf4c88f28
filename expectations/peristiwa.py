"""Expectation suite for canonical ``peristiwa`` (births, deaths, moves): an event needs its
id, a valid NIK, a known event code and a date that is not in the future."""

from __future__ import annotations

from expectations.common import kode_desa_checks
from simpul.domain.regions import code_lists
from simpul.validate import Check


def checks(kabupaten: str = "16.08") -> list[Check]:
    import great_expectations.expectations as gxe

    from expectations.custom import (
        ExpectColumnValuesToBeDateNotInFuture,
        ExpectColumnValuesToBeValidNik,
    )

    codes = sorted(code_lists()["peristiwa_opensid"])
    return [
        Check(
            "id_peristiwa_required",
            "error",
            "id_peristiwa",
            gxe.ExpectColumnValuesToNotBeNull(column="id_peristiwa"),
            "event id is empty",
            "nomor peristiwa kosong",
        ),
        Check(
            "id_peristiwa_unique",
            "error",
            "id_peristiwa",
            gxe.ExpectColumnValuesToBeUnique(column="id_peristiwa"),
            "the same event id appears twice in this delivery",
            "nomor peristiwa yang sama muncul dua kali dalam kiriman ini",
        ),
        Check(
            "nik_required",
            "error",
            "nik",
            gxe.ExpectColumnValuesToNotBeNull(column="nik"),
            "NIK of the person is empty",
            "NIK penduduk kosong",
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
            "no_kk_structure",
            "warn",
            "no_kk",
            gxe.ExpectColumnValuesToMatchRegex(column="no_kk", regex=r"^\d{16}$"),
            "family card number (no_kk) is not 16 digits",
            "nomor KK tidak 16 digit",
        ),
        Check(
            "kode_peristiwa_required",
            "error",
            "kode_peristiwa",
            gxe.ExpectColumnValuesToNotBeNull(column="kode_peristiwa"),
            "event type is empty or unknown",
            "jenis peristiwa kosong atau tidak dikenal",
        ),
        Check(
            "kode_peristiwa_code",
            "error",
            "kode_peristiwa",
            gxe.ExpectColumnValuesToBeInSet(column="kode_peristiwa", value_set=codes),
            "event type is not a code of list peristiwa_opensid",
            "jenis peristiwa bukan kode pada daftar peristiwa_opensid",
        ),
        Check(
            "tanggal_peristiwa_required",
            "error",
            "tanggal_peristiwa",
            gxe.ExpectColumnValuesToNotBeNull(column="tanggal_peristiwa"),
            "event date is empty or unreadable",
            "tanggal peristiwa kosong atau tidak terbaca",
        ),
        Check(
            "tanggal_peristiwa_range",
            "error",
            "tanggal_peristiwa",
            ExpectColumnValuesToBeDateNotInFuture(
                column="tanggal_peristiwa", earliest="1900-01-01"
            ),
            "event date is in the future or before 1900",
            "tanggal peristiwa di masa depan atau sebelum 1900",
        ),
        *kode_desa_checks(kabupaten),
    ]
