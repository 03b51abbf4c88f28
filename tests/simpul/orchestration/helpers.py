"""Seed the ops tables of a real warehouse with loads, findings and quarantine rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

NIK = "1608014507900001"
NAME = "Siti Aminah binti Rahman"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_load(
    wh,
    load_id: str,
    pipeline: str,
    *,
    hours_ago: float,
    status: str = "loaded",
    received: int = 100,
    loaded: int = 90,
    quarantined: int = 8,
    duplicate: int = 2,
    source: str | None = None,
) -> None:
    source = source or pipeline.split("_")[0]
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "insert into ops.loads (load_id, pipeline, source, stream, entity, status, "
                "loaded_at, rows_received, rows_loaded, rows_quarantined, rows_duplicate, "
                "rows_warned) values (:id, :p, :s, 'penduduk', 'penduduk', :st, :at, :r, :l, "
                ":q, :d, 0)"
            ),
            {
                "id": load_id,
                "p": pipeline,
                "s": source,
                "st": status,
                "at": NOW - timedelta(hours=hours_ago),
                "r": received,
                "l": loaded,
                "q": quarantined,
                "d": duplicate,
            },
        )


def add_quarantine(wh, load_id: str, n: int, rule: str = "nik_valid", status: str = "open"):
    with wh.begin() as conn:
        for i in range(n):
            nik = f"{int(NIK) + i}"
            conn.execute(
                sa.text(
                    "insert into ops.quarantine (load_id, source, stream, entity, row_number, "
                    "record_key, rules, reasons_en, reasons_id, record_json, status, "
                    "quarantined_at) values (:id, 'siak', 'penduduk', 'penduduk', :row, :key, "
                    ":rules, :en, :idn, :rec, :st, :at)"
                ),
                {
                    "id": load_id,
                    "row": i + 1,
                    "key": nik,
                    "rules": f"{rule},kode_desa_known",
                    "en": f"nik: {nik} is not valid",
                    "idn": f"nik: {nik} tidak valid",
                    "rec": json.dumps({"NIK": nik, "NAMA_LGKP": NAME}),
                    "st": status,
                    "at": NOW,
                },
            )
            conn.execute(
                sa.text(
                    "insert into ops.dq_findings values (:id, :row, :rule, 'error', 'nik', "
                    ":en, :idn, :at)"
                ),
                {
                    "id": load_id,
                    "row": i + 1,
                    "rule": rule,
                    "en": f"{nik} bad",
                    "idn": f"{NAME} salah",
                    "at": NOW,
                },
            )
