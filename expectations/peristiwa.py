"""Expectation suite for canonical ``peristiwa`` (births, deaths, moves): an event needs its
id, a valid NIK, a known event code and a date that is not in the future."""

from __future__ import annotations

from expectations.common import (
    date_range,
    in_set,
    key_checks,
    kode_desa_checks,
    nik_checks,
    no_kk_structure,
    not_null,
)
from simpul.domain.regions import code_lists
from simpul.validate import Check


def _event_checks() -> list[Check]:
    """The event itself: its id, its type and its date."""
    codes = sorted(code_lists()["peristiwa_opensid"])
    return [
        not_null(
            "kode_peristiwa_required",
            "kode_peristiwa",
            "event type is empty or unknown",
            "jenis peristiwa kosong atau tidak dikenal",
        ),
        in_set(
            "kode_peristiwa_code",
            "kode_peristiwa",
            codes,
            "event type is not a code of list peristiwa_opensid",
            "jenis peristiwa bukan kode pada daftar peristiwa_opensid",
        ),
        not_null(
            "tanggal_peristiwa_required",
            "tanggal_peristiwa",
            "event date is empty or unreadable",
            "tanggal peristiwa kosong atau tidak terbaca",
        ),
        date_range(
            "tanggal_peristiwa",
            "1900-01-01",
            "event date is in the future or before 1900",
            "tanggal peristiwa di masa depan atau sebelum 1900",
        ),
    ]


def checks(kabupaten: str = "16.08") -> list[Check]:
    return [
        *key_checks("id_peristiwa", "id_peristiwa", "event id", "nomor peristiwa"),
        *nik_checks("NIK of the person is empty", "NIK penduduk kosong"),
        no_kk_structure("warn"),
        *_event_checks(),
        *kode_desa_checks(kabupaten),
    ]
