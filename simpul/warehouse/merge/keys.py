"""Identities in the merge: a record's key as one text, a version's content hash, and the temp
table of the keys a merge touched.

A stored ``_row_hash`` must stay valid across releases, so :func:`row_hash` and its column-wise
twin :func:`row_hashes` change only together (``test_merge_paths`` compares the two).
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from simpul.model import Entity
from simpul.warehouse.engine import Warehouse, quote_ident
from simpul.warehouse.merge.shapes import KEYS_TABLE, S
from simpul.warehouse.pseudonym import canonical


def record_key(ent: Entity, row: dict[str, Any]) -> str:
    return "|".join(str(row[k]) for k in ent.key)


def record_keys(ent: Entity, table: pa.Table) -> pa.Array:
    """:func:`record_key` of every row, computed by Arrow."""
    parts = [table.column(k).cast(S) for k in ent.key]
    if len(parts) == 1:
        return pc.fill_null(parts[0], "None").combine_chunks()
    filled = [pc.fill_null(p, "None") for p in parts]
    return pc.binary_join_element_wise(*filled, "|").combine_chunks()


def key_sql(ent: Entity, alias: str = "") -> str:
    """:func:`record_key` as a SQL expression over the key columns."""
    prefix = f"{alias}." if alias else ""
    parts = [f"{prefix}{quote_ident(k)}" for k in ent.key]
    return parts[0] if len(parts) == 1 else " || '|' || ".join(parts)


def row_hash(ent: Entity, row: dict[str, Any], deleted: bool) -> str:
    """Identity of a version's content (key and updated_at are part of the version id)."""
    skip = set(ent.key) | {"updated_at"}
    text = "\x1f".join(
        "\x00" if (v := canonical(row.get(c))) is None else v
        for c in ent.column_names
        if c not in skip
    )
    return hashlib.sha256(f"{int(deleted)}\x1e{text}".encode()).hexdigest()[:32]


def row_hashes(ent: Entity, rows: pa.Table) -> pa.Array | None:
    """:func:`row_hash` of every (not deleted) row, the text built by Arrow and hashed by an
    in-memory DuckDB (its ``sha256`` is the same SHA-256 of the same UTF-8 bytes, so the
    hashes stored by earlier versions stay valid; ``test_merge_paths`` compares the two).

    Only for text and date columns, whose Arrow string cast equals :func:`canonical` (``str`` /
    ``date.isoformat``); None for any other type (the caller falls back to :func:`row_hash`).
    """
    skip = set(ent.key) | {"updated_at"}
    parts = []
    for c in ent.column_names:
        if c in skip:
            continue
        col = rows.column(c)
        t = col.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_date32(t)):
            return None
        parts.append(pc.fill_null(col.cast(pa.string()), "\x00"))
    if not parts:
        return None
    text = pc.binary_join_element_wise(*parts, "\x1f")
    # a fresh DuckDB (and, on PostgreSQL, its import: 0.5 s) costs more than it saves on few rows
    if len(text) < (50_000 if "duckdb" in sys.modules else 300_000):
        sha = hashlib.sha256
        return pa.array([sha(f"0\x1e{t}".encode()).hexdigest()[:32] for t in text.to_pylist()], S)
    return _live_hashes(text)


def _live_hashes(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``sha256(f"0\\x1e{t}").hexdigest()[:32]`` of every value (a live version's hash text),
    computed by DuckDB in row order."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("_simpul_text", pa.table({"t": text}))
        out = con.sql(
            "SELECT left(sha256(concat('0', chr(30), t)), 32) AS h FROM _simpul_text"
        ).to_arrow_table()
    finally:
        con.close()
    hashes: pa.Array = out.column("h").combine_chunks().cast(S)
    return hashes


def key_table(conn: Connection, wh: Warehouse, keys: list[str] | pa.Array) -> None:
    """(Re)create the temp table of the keys a merge touched, left for the caller."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {KEYS_TABLE} (_record_key VARCHAR)")
    wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": pa.array(keys, S)}))


def repeated(keys: pa.Array) -> pa.Array:
    """The keys that occur more than once in ``keys``."""
    counts = pc.value_counts(keys)
    found: pa.Array = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    return found.cast(S)


def first_seen(keys: pa.Array, stored: list[str], repeats: pa.Array) -> pa.Array:
    """Mask of the rows whose key is neither stored yet nor repeated in the delivery."""
    known = pa.concat_arrays([pa.array(stored, S), repeats])
    mask: pa.Array = pc.invert(pc.is_in(keys, value_set=known))
    return mask
