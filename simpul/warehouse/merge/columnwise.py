"""The set-based paths of :func:`~simpul.warehouse.merge.apply_versions`: records whose new
state is exactly one incoming version, written per column by Arrow and SQL over the staged rows
instead of record by record in Python. Each gives the rows the per-record survivorship
(:mod:`.derive`) gives for the same versions (``tests/simpul/warehouse/test_merge_paths.py``):

* *new* (:func:`insert_new`): no stored version, one incoming version;
* *seen* (:func:`touch_seen`): the incoming version is a stored version, unchanged;
* *superseded* (:func:`supersede`): every stored version is live, from the incoming version's
  source and older than it (a changed record in a source's increment). One live source has no
  conflicts and wins every column, so the record becomes the incoming version, and its history
  gains a period only where the tracked columns changed.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.model import LINEAGE, Entity
from simpul.warehouse.engine import Warehouse, qualified, quote_ident
from simpul.warehouse.merge.keys import key_sql
from simpul.warehouse.merge.shapes import (
    INCOMING_TABLE,
    KEYS_TABLE,
    TRACKED,
    TS,
    core_schema,
    history_schema,
)

NEW_HISTORY_TABLE = "_simpul_new_history"


def _one_version_rows(ent: Entity, rows: pa.Table, now: datetime) -> tuple[pa.Table, pa.Table]:
    """Core and history rows of records whose one state is the version in ``rows``: what
    :func:`~simpul.warehouse.merge.derive.derive_one` builds per record, built per column."""
    n = rows.num_rows
    stamp = pa.repeat(pa.scalar(now, TS), n)
    at = pc.coalesce(rows.column("updated_at"), rows.column("_extracted_at"))
    core = {c: rows.column(c) for c in ent.column_names}
    core["updated_at"] = at
    core.update({f.name: rows.column(f.name) for f in LINEAGE})
    core["_merged_at"] = stamp
    core["_deleted_at"] = pa.nulls(n, TS)
    history = {k: rows.column(k) for k in ent.key}
    history.update(valid_from=at, valid_to=pa.nulls(n, TS), is_current=pa.repeat(True, n))
    history.update({c: rows.column(c) for c in TRACKED[ent.name]})
    history.update(
        _source=rows.column("_source"), _load_id=rows.column("_load_id"), _recorded_at=stamp
    )
    return (
        pa.table(core, schema=core_schema(ent)),
        pa.table(history, schema=history_schema(ent)),
    )


def store_versions(
    conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, now: datetime
) -> None:
    stamp = pa.repeat(pa.scalar(now, TS), rows.num_rows)
    versions = rows.append_column("_recorded_at", stamp)
    wh.bulk_insert(conn, qualified("core", f"{ent.name}_versions"), versions)


def insert_new(conn: Connection, wh: Warehouse, ent: Entity, new: pa.Table, now: datetime) -> int:
    """Version, core and history rows of records seen for the first time."""
    store_versions(conn, wh, ent, new, now)
    core, history = _one_version_rows(ent, new, now)
    wh.bulk_insert(conn, qualified("core", ent.name), core)
    wh.bulk_insert(conn, qualified("core", f"{ent.name}_history"), history)
    return int(new.num_rows)


def touch_seen(conn: Connection, wh: Warehouse, ent: Entity, seen: pa.Array, now: datetime) -> None:
    """Records delivered again unchanged: only the matching version's ``_last_seen_at``
    moves, not the other sources' (the incoming versions are in ``_simpul_incoming``)."""
    t_versions = qualified("core", f"{ent.name}_versions")
    conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_seen")
    conn.exec_driver_sql("CREATE TEMP TABLE _simpul_seen (_record_key VARCHAR)")
    wh.bulk_insert(conn, "_simpul_seen", pa.table({"_record_key": seen}))
    conn.execute(
        sa.text(
            f"UPDATE {t_versions} AS v "
            f"SET _last_seen_at = i._last_seen_at, _recorded_at = :now "
            f"FROM (SELECT n.* FROM {INCOMING_TABLE} n JOIN _simpul_seen s "
            f"ON n._record_key = s._record_key) i "
            f"WHERE {key_sql(ent, 'v')} = i._record_key AND v._source = i._source "
            f"AND v.updated_at IS NOT DISTINCT FROM i.updated_at AND v._row_hash = i._row_hash "
            f"AND i._last_seen_at > v._last_seen_at"
        ),
        {"now": now},
    )
    conn.exec_driver_sql("DROP TABLE _simpul_seen")
    wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": seen}))


def supersede(
    conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, keys: pa.Array, now: datetime
) -> int:
    """Superseded records (see the module docstring): the new version is stored, the core row
    becomes it (``INSERT ... ON CONFLICT DO UPDATE``) and, where a tracked column changed,
    the current history period closes at the new version's time and a new one opens."""
    wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": keys}))
    store_versions(conn, wh, ent, rows, now)
    core, history = _one_version_rows(ent, rows, now)
    wh.upsert_table(conn, qualified("core", ent.name), core, ent.key)
    t_history = qualified("core", f"{ent.name}_history")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEW_HISTORY_TABLE}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {NEW_HISTORY_TABLE} AS SELECT * FROM {t_history} LIMIT 0"
    )
    wh.bulk_insert(conn, NEW_HISTORY_TABLE, history)
    on_key = " AND ".join(f"h.{quote_ident(k)} = n.{quote_ident(k)}" for k in ent.key)
    moved = " OR ".join(
        f"h.{quote_ident(c)} IS DISTINCT FROM n.{quote_ident(c)}" for c in TRACKED[ent.name]
    )
    cols = ", ".join(f"n.{quote_ident(c)}" for c in history.column_names)
    conn.exec_driver_sql(
        f"INSERT INTO {t_history} ({cols.replace('n.', '')}) SELECT {cols} "
        f"FROM {NEW_HISTORY_TABLE} n JOIN {t_history} h ON {on_key} AND h.is_current "
        f"WHERE {moved}"
    )
    conn.execute(
        sa.text(
            f"UPDATE {t_history} AS h SET valid_to = n.valid_from, is_current = false, "
            f"_recorded_at = :now FROM {NEW_HISTORY_TABLE} n "
            f"WHERE {on_key} AND h.is_current AND h.valid_from < n.valid_from AND ({moved})"
        ),
        {"now": now},
    )
    conn.exec_driver_sql(f"DROP TABLE {NEW_HISTORY_TABLE}")
    return int(rows.num_rows)
