"""``raw.<source>_<stream>``: every delivered row as delivered (text), with row number and the
delivery's lineage. A delivery with new columns adds them (additive drift is kept)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul import atrest
from simpul.landing import Manifest
from simpul.warehouse.engine import Warehouse, qualified, quote_ident

TS = pa.timestamp("us", tz="UTC")


def constant(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    repeated: pa.Array = pa.repeat(pa.scalar(value, type_), n)
    return repeated


def lineage(table: pa.Table, manifest: Manifest) -> pa.Table:
    """The delivery's lineage on every row: constants, repeated by Arrow (no Python lists)."""
    n = table.num_rows
    extracted = datetime.fromisoformat(manifest.extracted_at)
    table = table.append_column("_load_id", constant(manifest.load_id, pa.string(), n))
    table = table.append_column("_source", constant(manifest.source, pa.string(), n))
    return table.append_column("_extracted_at", constant(extracted, TS, n))


RAW_BATCH = 245_760  # rows per insert: two whole DuckDB row groups, a bounded slice in memory
READ_BATCH = 65_536  # rows per batch when only picking rows out of a file


def read_batches(path: str | Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    """A Parquet file's rows a batch at a time, without pre-buffering: pyarrow's default reads
    a whole row group's columns ahead (a 1,000,000-row staged row group: ~250 MB more at
    the load's peak, for no speed the load can see)."""
    pf = atrest.parquet_file(path, pre_buffer=False)
    yield from pf.iter_batches(batch_size=batch_size)


def store_raw(conn: Connection, wh: Warehouse, manifest: Manifest) -> None:
    """(Re)write the delivery's raw rows, streamed from the landed file a batch at a time (a
    2,000,000-row delivery is never in memory whole)."""
    raw_name = f"{manifest.source}_{manifest.stream}"
    ensure_raw_table(conn, wh, raw_name, manifest.columns)
    conn.execute(
        sa.text(f"DELETE FROM {qualified('raw', raw_name)} WHERE _load_id = :id"),
        {"id": manifest.load_id},
    )
    first = 1
    for batch in read_batches(manifest.file, RAW_BATCH):
        raw = pa.Table.from_batches([batch])
        rows = pa.array(range(first, first + raw.num_rows), pa.int64())
        wh.bulk_insert(
            conn, qualified("raw", raw_name), lineage(raw.append_column("_row", rows), manifest)
        )
        first += raw.num_rows


def delivered_rows(manifest: Manifest, row_numbers: list[int]) -> list[dict[str, Any]]:
    """The landed rows with these (1-based) numbers, in that order, as delivered: read a batch
    at a time, keeping only the rows asked for."""
    pf = atrest.parquet_file(manifest.file)
    if not pf.schema_arrow.names:
        return [{} for _ in row_numbers]
    wanted = sorted(set(row_numbers))
    found: dict[int, dict[str, Any]] = {}
    first, i = 1, 0
    for batch in read_batches(manifest.file, READ_BATCH):
        end = first + batch.num_rows
        take = []
        while i < len(wanted) and wanted[i] < end:
            take.append(wanted[i])
            i += 1
        if take:
            picked = batch.take(pa.array([n - first for n in take], pa.int64())).to_pylist()
            found.update(zip(take, picked, strict=True))
        first = end
    return [found[n] for n in row_numbers]


def ensure_raw_table(conn: Connection, wh: Warehouse, table: str, columns: list[str]) -> None:
    """raw.<source>_<stream>: the delivered columns as text, plus row number and lineage.

    Two loads of a fresh PostgreSQL warehouse (province partitions on two workers) must not
    both create it: the second would fail on ``pg_type_typname_nsp_index``. The first to find
    it missing takes a transaction-scoped advisory lock and looks again; the other waits for
    that load to commit (only while the table is new), then finds it."""
    target = qualified("raw", table)
    if not wh.table_exists(conn, "raw", table) and wh.dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"raw.{table}"})
    if not wh.table_exists(conn, "raw", table):
        cols = ", ".join(f"{quote_ident(c)} VARCHAR" for c in columns)
        conn.exec_driver_sql(
            f"CREATE TABLE {target} ({quote_ident('_load_id')} VARCHAR, "
            f"{quote_ident('_row')} BIGINT, {quote_ident('_source')} VARCHAR, "
            f"{quote_ident('_extracted_at')} TIMESTAMP WITH TIME ZONE"
            + (", " + cols if cols else "")
            + ")"
        )
        return
    have = {
        r[0]
        for r in conn.execute(
            sa.text(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = :t"
            ),
            {"t": table},
        )
    }
    for c in columns:
        if c not in have:
            conn.exec_driver_sql(  # IF NOT EXISTS: a concurrent load may add the same column
                f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_ident(c)} VARCHAR"
            )
