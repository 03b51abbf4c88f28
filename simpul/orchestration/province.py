"""The province as per-kabupaten partitions (issue 18 item 6): each kabupaten's SIAK export is one
delivery, landed, transformed and loaded by its own task, so Airflow's dynamic task mapping
(``.expand()``) spreads them over the workers (CeleryExecutor) and one partition's memory is
the most any worker needs. The marts are built once after all partitions, incrementally.

A partition is a Parquet file in the province folder (``SIMPUL_PROVINCE_DIR``), named after its
kabupaten (``16.08.parquet``), with SIAK's columns as the connector lands them. PostgreSQL is the
shared warehouse when workers run on several machines (DuckDB allows one writer at a time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PIPELINE = "siak_penduduk"
SOURCE, STREAM, CURSOR = "siak", "penduduk", "UPDATED_AT"
BATCH_ROWS = 50_000


def province_dir() -> Path | None:
    """The folder of per-kabupaten exports, if configured."""
    value = os.environ.get("SIMPUL_PROVINCE_DIR")
    return Path(value) if value else None


def partitions(folder: Path | None = None) -> list[dict[str, str]]:
    """One partition per ``*.parquet`` in ``folder`` (sorted by name): what ``.expand()`` maps."""
    folder = folder or province_dir()
    if folder is None or not folder.is_dir():
        return []
    return [{"kabupaten": f.stem, "file": str(f)} for f in sorted(folder.glob("*.parquet"))]


def _batches(path: Path, top: list[str]) -> Iterator[Any]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        if CURSOR in batch.schema.names:
            newest = pc.max(batch.column(CURSOR)).as_py()
            if newest:
                top.append(newest)
        yield batch


def run_partition(partition: dict[str, str]) -> dict[str, Any]:
    """Land, transform and load one kabupaten's export; returns counts, seconds and the
    process's peak RSS (what a worker must have), never any resident's values."""
    from simpul import pipeline
    from simpul.config import paths
    from simpul.landing import land, new_load_id, stream_lock

    started = time.monotonic()
    top: list[str] = []
    kabupaten = partition["kabupaten"]
    # one run per kabupaten (a retry never overlaps its first try); other kabupaten run on
    with stream_lock(paths().landing, SOURCE, STREAM, partition=kabupaten):
        manifest = land(
            _batches(Path(partition["file"]), top),
            root=paths().landing,
            source=SOURCE,
            stream=STREAM,
            load_id=new_load_id(SOURCE, STREAM),
            cursor_to=lambda: max(top) if top else None,
        )
        transformed = pipeline.transform(PIPELINE, manifest.load_id)
        loaded = pipeline.load(PIPELINE, manifest.load_id, partition=kabupaten)
    return {
        "kabupaten": kabupaten,
        "load_id": manifest.load_id,
        "rows": manifest.row_count,
        "valid": transformed["valid"],
        "quarantined": transformed["quarantined"],
        "status": loaded["status"],
        "seconds": round(time.monotonic() - started, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (``VmHWM``), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build_marts_after(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The marts once all partitions are loaded (only what they touched is rebuilt)."""
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.marts import build_marts

    started = time.monotonic()
    wh = open_warehouse()
    try:
        counts = build_marts(wh)
    finally:
        wh.dispose()
    return {
        "partitions": len(results),
        "rows": sum(int(r.get("rows", 0)) for r in results),
        "marts": counts,
        "marts_seconds": round(time.monotonic() - started, 2),
    }
