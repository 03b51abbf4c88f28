"""``raw.<source>_<stream>``: every delivered row as delivered (text), with row number and the
delivery's lineage. A delivery with new columns adds them (additive drift is kept)."""

from __future__ import annotations

from datetime import datetime
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


def store_raw(conn: Connection, wh: Warehouse, manifest: Manifest) -> pa.Table:
    """(Re)write the delivery's raw rows; returns the landed table as read."""
    raw_name = f"{manifest.source}_{manifest.stream}"
    landed = atrest.read_table(manifest.file)
    ensure_raw_table(conn, wh, raw_name, manifest.columns)
    conn.execute(
        sa.text(f"DELETE FROM {qualified('raw', raw_name)} WHERE _load_id = :id"),
        {"id": manifest.load_id},
    )
    raw = landed.append_column("_row", pa.array(range(1, landed.num_rows + 1), pa.int64()))
    wh.bulk_insert(conn, qualified("raw", raw_name), lineage(raw, manifest))
    return landed


def ensure_raw_table(conn: Connection, wh: Warehouse, table: str, columns: list[str]) -> None:
    """raw.<source>_<stream>: the delivered columns as text, plus row number and lineage."""
    target = qualified("raw", table)
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
            conn.exec_driver_sql(f"ALTER TABLE {target} ADD COLUMN {quote_ident(c)} VARCHAR")
