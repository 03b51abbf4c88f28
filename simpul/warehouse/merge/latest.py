"""Entities without history (keluarga, peristiwa, izin, ...): one current row per natural key,
the newest ``updated_at`` wins, equal content is left untouched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from simpul.model import LINEAGE, Entity
from simpul.warehouse.engine import Warehouse, qualified
from simpul.warehouse.merge.derive import Row, utc, version_time
from simpul.warehouse.merge.keys import (
    first_seen,
    key_sql,
    key_table,
    record_key,
    record_keys,
    repeated,
    row_hash,
)
from simpul.warehouse.merge.shapes import KEYS_TABLE, TS, upsert_schema
from simpul.warehouse.merge.sync import fetch, same


def upsert(conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, *, now: datetime) -> int:
    """Merge valid rows (with lineage) into ``core.<entity>`` by natural key; returns rows
    written. An older or identical row changes nothing, so reloads and replays are no-ops and
    ``_merged_at`` says when a record last really changed.

    Records not stored yet and delivered once (a first load, mostly) are bulk-inserted; the
    newer rows of the others are written by one ``INSERT ... ON CONFLICT DO UPDATE``.
    Like ``apply_versions``, leaves the temp table ``_simpul_keys`` for the caller.
    """
    table = rows.select(ent.column_names + [f.name for f in LINEAGE])
    keys = record_keys(ent, table)
    key_table(conn, wh, pc.unique(keys))
    if table.num_rows == 0:
        return 0
    t_core = qualified("core", ent.name)
    stored = conn.exec_driver_sql(
        f"SELECT k._record_key FROM {KEYS_TABLE} k WHERE k._record_key IN "
        f"(SELECT {key_sql(ent)} FROM {t_core})"
    ).all()
    is_new = first_seen(keys, [r[0] for r in stored], repeated(keys))
    new = table.filter(is_new)
    written = 0
    if new.num_rows:
        stamp = pa.repeat(pa.scalar(now, TS), new.num_rows)
        written = wh.bulk_insert(conn, t_core, new.append_column("_merged_at", stamp))
    out = _newer_rows(conn, ent, table.filter(pc.invert(is_new)))
    if out:
        newer = pa.Table.from_pylist([{**r, "_merged_at": now} for r in out], upsert_schema(ent))
        written += wh.upsert_table(conn, t_core, newer, ent.key)
    return written


def _order(ent: Entity, r: Row) -> tuple[Any, ...]:
    """Which of two rows of one key is newer: source time (else extraction time), then the
    later extraction (a source that re-sent a record without a new updated_at), then content
    (only to make the choice independent of load order)."""
    return (version_time(r), utc(r["_extracted_at"]), row_hash(ent, r, False))


def _newer_rows(conn: Connection, ent: Entity, delivered: pa.Table) -> list[Row]:
    """Per key the delivery's newest row, if it is newer than and differs from the stored one."""
    best: dict[str, Row] = {}
    for r in delivered.to_pylist():
        rk = record_key(ent, r)
        if rk not in best or _order(ent, r) > _order(ent, best[rk]):
            best[rk] = r
    if not best:
        return []
    t_core = qualified("core", ent.name)
    existing = {record_key(ent, r): r for r in fetch(conn, t_core, key_sql(ent))}
    out: list[Row] = []
    for rk, r in best.items():
        old = existing.get(rk)
        if old is not None and (
            _order(ent, r) <= _order(ent, old) or same(r, old, ent.column_names)
        ):
            continue
        out.append(r)
    return out
