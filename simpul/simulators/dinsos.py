"""Dinas Sosial's list of social-assistance recipients (penerima bantuan), as a CSV drop.

Encoding choice: **UTF-8 with BOM, ';' separated, CRLF line ends**: what Excel's "CSV UTF-8"
writes on a Windows machine with Indonesian regional settings (list separator ';'). cp1252 ("CSV
(Comma delimited)") is the other common export, but it cannot carry the zero-width and BOM
characters real name fields pick up, so UTF-8-BOM keeps the injected defects intact.

Header ``NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL``; KODE_DESA is the 10-digit
Kemendagri village code without dots (as in DTKS/SIKS-NG), NOMINAL whole rupiah, PERIODE like
``2026-Q4``. The cross-entity defect ``deceased_receiving_assistance`` lists a resident whom the
population register has as dead; truth in ``ground_truth/dinsos_penerima_bantuan.parquet``
(source_row = the line number in the file, header = line 1).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa

from simpul.simulators.filedrop import (
    delivered_with_defects,
    drop_time,
    in_kecamatan,
    located,
    sub_seed,
    write_atomic,
    write_truth,
)
from simpul.synth.world import load_world

DINSOS_COLUMNS = ["NIK", "NO_KK", "NAMA", "PROGRAM", "PERIODE", "KODE_DESA", "NOMINAL"]
DINSOS_KINDS = (
    "deceased_receiving_assistance",
    "duplicate_nik",
    "nik_excel_zeroed",
    "leading_apostrophe",
    "nonprinting_chars",
)
ENCODING = "utf-8-sig"
DELIMITER = ";"


def dinsos_file_name(world_as_of: Any, kecamatan: str | None) -> str:
    area = (kecamatan or "16.08").replace(".", "")
    return f"penerima_bantuan_{area}_{world_as_of:%Y%m%d}.csv"


def write_dinsos_drop(
    world_dir: Path | str,
    drop_dir: Path | str,
    *,
    defect_rate: float = 0.0,
    seed: int = 42,
    kecamatan: str | None = None,
) -> Path:
    """Write the recipients CSV into ``drop_dir`` and its ground truth; returns the file."""
    world = load_world(world_dir)
    table = in_kecamatan(world.penerima_bantuan, kecamatan)
    names = dict(
        zip(
            world.penduduk.column("nik").to_pylist(),
            world.penduduk.column("nama_lengkap").to_pylist(),
            strict=True,
        )
    )
    table = table.append_column(
        "nama_lengkap", pa.array([names.get(n) for n in table.column("nik").to_pylist()])
    )
    delivered, truth = delivered_with_defects(
        table,
        world,
        rate=defect_rate,
        seed=sub_seed(seed, "dinsos"),
        kinds=DINSOS_KINDS,
        entity="penerima_bantuan",
    )
    rows = delivered.to_pylist()
    truth_rows = truth.to_pylist()
    for t in truth_rows:  # the deceased recipient's own name, as the register would show it
        if t["kind"] == "deceased_receiving_assistance":
            rows[t["row_index"]]["nama_lengkap"] = names.get(t["delivered_value"])

    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=DELIMITER, lineterminator="\r\n")
    w.writerow(DINSOS_COLUMNS)
    for x in rows:
        w.writerow(
            [
                x["nik"],
                x["no_kk"],
                x["nama_lengkap"],
                x["program"],
                x["periode"],
                (x["kode_desa"] or "").replace(".", ""),
                x["nominal"],
            ]
        )
    name = dinsos_file_name(world.config.as_of, kecamatan)
    when = drop_time(world.config.as_of, minutes=180)
    out = write_atomic(Path(drop_dir) / name, buf.getvalue().encode(ENCODING), when)
    located_rows = located(truth_rows, source="dinsos", file_name=name, first_row=2)
    for t in located_rows:
        t["kode_desa"] = rows[t["row_index"]]["kode_desa"]
    write_truth(world_dir, "dinsos_penerima_bantuan", located_rows)
    return out


__all__ = ["DINSOS_COLUMNS", "DINSOS_KINDS", "ENCODING", "write_dinsos_drop"]
