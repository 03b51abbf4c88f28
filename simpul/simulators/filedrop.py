"""Helpers shared by the file-drop simulators (OpenSID, SIAK export, Dinas Sosial).

Agencies hand files over, not API rows, so the ground truth must name the *file and row* a
person would open to see each defect. Files are written byte-for-byte reproducibly (fixed ZIP
timestamps, fixed workbook properties, fixed mtime) and atomically, so a connector polling the
folder never reads half a file.
"""

from __future__ import annotations

import io
import os
import random
import re
import tempfile
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simpul.synth.defects import GROUND_TRUTH_SCHEMA, as_text, inject_defects
from simpul.synth.injector import EXCEL_EPOCH

if TYPE_CHECKING:
    from simpul.synth.world import World

_MODIFIED = re.compile(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
DROP_TRUTH_SCHEMA = pa.schema(
    [
        *GROUND_TRUTH_SCHEMA,
        ("source", pa.string()),
        ("kode_desa", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
    ]
)


def sub_seed(seed: int, *parts: str | int) -> int:
    """A stable child seed for one file/part, independent of iteration order elsewhere."""
    words = [seed] + [int.from_bytes(str(p).encode()[:16].ljust(16, b"\0"), "big") for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def rng_for(seed: int, *parts: str | int) -> random.Random:
    return random.Random(sub_seed(seed, *parts))


def drop_time(as_of: date, minutes: int = 0) -> datetime:
    """When a file was 'sent': the day before the world snapshot, office hours (UTC)."""
    base = datetime.combine(as_of - timedelta(days=1), time(1, 0), tzinfo=UTC)
    return base + timedelta(minutes=minutes)


def excel_serial(d: date) -> int:
    """Days since 1899-12-30, the number Excel and SIAK store for a date."""
    return (d - EXCEL_EPOCH).days


def stable_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite a ZIP (an .xlsx is one) with fixed entry times: same input -> same bytes."""
    stamp = when.astimezone(UTC).timetuple()[:6]
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' on save
                body = _MODIFIED.sub(
                    lambda m: m.group(1) + when.strftime("%Y-%m-%dT%H:%M:%SZ") + m.group(2),
                    body.decode(),
                ).encode()
            dst.writestr(zi, body)
    return out.getvalue()


def workbook_bytes(wb: Any, when: datetime) -> bytes:
    """Save an openpyxl workbook reproducibly (properties and ZIP times fixed to ``when``)."""
    naive = when.astimezone(UTC).replace(tzinfo=None)
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.properties.creator = "simpul-simulator"
    buf = io.BytesIO()
    wb.save(buf)
    return stable_zip(buf.getvalue(), when)


def write_atomic(path: Path, data: bytes, mtime: datetime | None = None) -> Path:
    """Write via a hidden temp file in the same folder and rename; optionally set mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mtime is not None:
            ts = mtime.timestamp()
            os.utime(tmp, (ts, ts))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def located(
    truth: pa.Table | list[dict[str, Any]],
    *,
    source: str,
    file_name: str,
    first_row: int,
    kode_desa: str | None = None,
) -> list[dict[str, Any]]:
    """Truth rows with the file name and the row number a person sees (row_index + first_row)."""
    rows = truth.to_pylist() if isinstance(truth, pa.Table) else truth
    out = []
    for r in rows:
        idx = r.get("row_index")
        out.append(
            {
                **{f.name: r.get(f.name) for f in GROUND_TRUTH_SCHEMA},
                "source": source,
                "kode_desa": r.get("kode_desa", kode_desa),
                "source_file": file_name,
                "source_row": None if idx is None else int(idx) + first_row,
            }
        )
    return out


def write_truth(world_dir: Path | str, name: str, rows: list[dict[str, Any]]) -> Path:
    """``<world_dir>/ground_truth/<name>.parquet`` in DROP_TRUTH_SCHEMA, ordered by file/row."""
    rows = sorted(
        rows,
        key=lambda r: (r["source_file"] or "", r["source_row"] or 0, r["kind"], r["field"] or ""),
    )
    out = Path(world_dir) / "ground_truth" / f"{name}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=DROP_TRUTH_SCHEMA), out)
    return out


def replace_truth(rows: list[dict[str, Any]], row_index: int, kind: str, **changes: Any) -> None:
    """Edit the truth entry of one delivered row and kind (e.g. the final date format)."""
    for r in rows:
        if r["row_index"] == row_index and r["kind"] == kind:
            r.update(changes)
            return
    raise KeyError((row_index, kind))


def nik_number_cell(row_index: int, nik: str) -> dict[str, Any]:
    """The truth entry of an intact NIK written as a number cell (Excel shows 1.60801E+15)."""
    return {
        "entity": "penduduk",
        "row_index": row_index,
        "record_key": nik,
        "nik": nik,
        "kind": "nik_number_cell",
        "field": "nik",
        "original_value": nik,
        "delivered_value": nik,
        "detail": "NIK stored as a number cell (Excel shows 1.60801E+15)",
    }


def delivered_with_defects(
    table: pa.Table,
    world: World,
    *,
    rate: float,
    seed: int,
    kinds: tuple[str, ...],
    entity: str,
    min_rows: int = 10,
) -> tuple[pa.Table, pa.Table]:
    """``table`` as a file would carry it, with ``kinds`` of defects when ``rate`` > 0 and it
    has at least ``min_rows`` rows (fewer cannot hold a meaningful share), and the truth."""
    if rate > 0 and table.num_rows >= min_rows:
        delivered, truth = inject_defects(
            table,
            rate,
            seed,
            kinds,
            entity=entity,
            penduduk=world.penduduk,
            as_of=world.config.as_of,
        )
        return delivered, truth
    return as_text(table), GROUND_TRUTH_SCHEMA.empty_table()


def in_kecamatan(table: pa.Table, kecamatan: str | None) -> pa.Table:
    """The rows of ``table`` whose village lies in ``kecamatan`` (all rows for None)."""
    if not kecamatan:
        return table
    return table.filter(pc.starts_with(table.column("kode_desa"), kecamatan + "."))
