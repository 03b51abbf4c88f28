"""Storing a delivery's versions of a record with history (penduduk) and recomputing the
records they touch: core row, SCD2 history and conflicts.

Records take one of two kinds of path with identical results (``test_merge_paths``,
``test_merge_joined``): records seen for the first time, delivered again unchanged, superseded
by their one source's newer version (:mod:`.columnwise`) or joined by a new source
(:mod:`.joined`) are handled set-based by Arrow and SQL; everything else goes through the
per-record survivorship of :func:`apply_dicts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.model import LINEAGE, Entity
from simpul.warehouse.engine import Warehouse, qualified
from simpul.warehouse.merge.columnwise import insert_new, supersede, touch_seen
from simpul.warehouse.merge.derive import Row, derive, utc
from simpul.warehouse.merge.joined import join_sources
from simpul.warehouse.merge.joined import supported as joined_supported
from simpul.warehouse.merge.keys import (
    first_seen,
    key_sql,
    key_table,
    record_key,
    record_keys,
    repeated,
    row_hash,
    row_hashes,
)
from simpul.warehouse.merge.shapes import (
    CONFLICTS,
    INCOMING_TABLE,
    KEYS_TABLE,
    S,
    core_schema,
    history_schema,
    versions_schema,
)
from simpul.warehouse.merge.sync import fetch, group, sync
from simpul.warehouse.pseudonym import canonical, hashing_key
from simpul.warehouse.survivorship import EntityRules, load_rules


def version_table(ent: Entity, rows: pa.Table) -> pa.Table:
    """Version records from mapped rows carrying lineage (``_load_id``, ``_source``, ...), as
    the Arrow table :func:`apply_versions` takes."""
    table = rows.select(ent.column_names + [f.name for f in LINEAGE])
    hashes = row_hashes(ent, table)
    if hashes is None:
        hashes = pa.array([row_hash(ent, r, False) for r in table.to_pylist()], S)
    table = table.append_column("_last_seen_at", table.column("_extracted_at"))
    table = table.append_column("_row_hash", hashes)
    return table.append_column("_deleted", pa.repeat(pa.scalar(False), table.num_rows))


def apply_versions(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: list[Row] | pa.Table,
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules | None = None,
) -> int:
    """Store new versions and recompute the records they touch; returns core rows written.

    Leaves the temp table ``_simpul_keys`` (column ``_record_key``) for the caller's follow-up
    statements within the same transaction.
    """
    rules = rules or load_rules().for_entity(ent.name)
    if isinstance(incoming, pa.Table):
        return _apply_table(conn, wh, ent, incoming, load_id=load_id, now=now, rules=rules)
    keys = sorted({record_key(ent, r) for r in incoming})
    key_table(conn, wh, keys)
    if not keys:
        return 0
    return apply_dicts(conn, wh, ent, incoming, load_id=load_id, now=now, rules=rules)


def _apply_table(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: pa.Table,
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules,
) -> int:
    """:func:`apply_versions` of a delivery's versions as Arrow, class by class of record
    (:func:`_classify`). Only the per-record class costs Python per row, and only it is
    turned into dicts."""
    if incoming.num_rows == 0:
        key_table(conn, wh, [])
        return 0
    keys = record_keys(ent, incoming)
    c = _classify(conn, wh, ent, incoming, keys)
    other_keys = sorted(set(pc.filter(keys, c.is_other).to_pylist()))
    key_table(conn, wh, other_keys)
    merged = 0
    if other_keys:
        other = incoming.filter(c.is_other).to_pylist()
        merged = apply_dicts(conn, wh, ent, other, load_id=load_id, now=now, rules=rules)
    if len(c.seen):
        touch_seen(conn, wh, ent, c.seen, now)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {INCOMING_TABLE}")
    newer = incoming.filter(c.is_newer)
    if newer.num_rows:
        merged += supersede(conn, wh, ent, newer, pc.filter(keys, c.is_newer), now)
    joined = incoming.filter(c.is_joined)
    if joined.num_rows:
        merged += join_sources(
            conn, wh, ent, joined, pc.filter(keys, c.is_joined),
            rules=rules, load_id=load_id, now=now,
        )  # fmt: skip
    new = incoming.filter(c.is_new)
    if new.num_rows:
        wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": pc.filter(keys, c.is_new)}))
        merged += insert_new(conn, wh, ent, new, now)
    return merged


class _Classes(NamedTuple):
    seen: pa.Array  # keys
    is_new: pa.Array  # masks over the incoming rows
    is_newer: pa.Array
    is_joined: pa.Array
    is_other: pa.Array


def _classify(
    conn: Connection, wh: Warehouse, ent: Entity, incoming: pa.Table, keys: pa.Array
) -> _Classes:
    """Which path each incoming version takes:

    * *new*: no stored version and one incoming version (every record of a first snapshot):
      its one state is the version itself, so the version, core and history rows are built
      column-wise by Arrow and bulk-inserted;
    * *seen*: the incoming version is already stored, live, first extracted no later, and no
      other stored version of its source shares its time (every unchanged record of a
      repeated full snapshot, also of a record several sources deliver): the set of versions
      survivorship reads is unchanged but for that version's ``_last_seen_at``, which only
      picks between versions of one source at one time, so only ``_last_seen_at`` moves;
    * *superseded*: every stored version live, from the incoming version's source and older
      (a changed record of a source's increment): :func:`.columnwise.supersede`;
    * *joined*: a source new to the record, every stored version live and the only one of
      its source (every resident of a first OpenSID or SIAK-export delivery that SIAK already
      delivered): survivorship in SQL for all of them at once, :mod:`.joined`;
    * everything else (a source's several versions among other sources', deletions, a
      re-sent record without a new ``updated_at``): the per-record :func:`apply_dicts`.
    """
    stored = _stored_matches(conn, wh, ent, incoming, keys)
    repeats = repeated(keys)
    multi = set(repeats.to_pylist())
    single = [r for r in stored if r.record_key not in multi]
    seen = pa.array([r.record_key for r in single if r.same == 1 and r.peers == 1], S)
    is_new = first_seen(keys, [r.record_key for r in stored], repeats)
    live = pc.invert(pc.fill_null(incoming.column("_deleted"), False))
    newer_keys = pa.array([r.record_key for r in single if r.newer == 1], S)
    is_newer = pc.and_(pc.is_in(keys, value_set=newer_keys), live)
    joining = [r.record_key for r in single if not r.own and not r.dead and r.sources == r.n]
    if not joined_supported(ent):
        joining = []
    is_joined = pc.and_(pc.is_in(keys, value_set=pa.array(joining, S)), live)
    is_seen = pc.is_in(keys, value_set=seen)
    is_other = pc.invert(pc.or_(pc.or_(pc.or_(is_new, is_seen), is_newer), is_joined))
    return _Classes(seen, is_new, is_newer, is_joined, is_other)


def _stored_matches(
    conn: Connection, wh: Warehouse, ent: Entity, incoming: pa.Table, keys: pa.Array
) -> Sequence[sa.Row[Any]]:
    """Per stored record the delivery touches: how many versions it has, whether the one
    incoming version is a stored one, first extracted no later (so its lineage stays) and
    not a deletion, whether it supersedes every stored version (same source, all live, all
    older than its ``updated_at``), and how many stored versions of its source might share
    its version time (``peers``: 1 means only the matching one, so it stays its source's
    effective version at that time whatever its ``_last_seen_at``). Leaves the incoming
    versions in ``_simpul_incoming``.

    A first load (nothing stored yet) needs no comparison: no rows, no temp table.
    """
    t_versions = qualified("core", f"{ent.name}_versions")
    if conn.exec_driver_sql(f"SELECT 1 FROM {t_versions} LIMIT 1").first() is None:
        return []
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {INCOMING_TABLE}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {INCOMING_TABLE} (_record_key VARCHAR, _source VARCHAR, "
        "updated_at TIMESTAMP WITH TIME ZONE, _row_hash VARCHAR, "
        "_extracted_at TIMESTAMP WITH TIME ZONE, _load_id VARCHAR, "
        "_last_seen_at TIMESTAMP WITH TIME ZONE)"
    )
    identity = ("_source", "updated_at", "_row_hash", "_extracted_at", "_load_id", "_last_seen_at")
    wh.bulk_insert(
        conn,
        INCOMING_TABLE,
        pa.table({"_record_key": keys, **{c: incoming.column(c) for c in identity}}),
    )
    rows = conn.execute(
        sa.text(
            f"SELECT i._record_key AS record_key, count(*) AS n, "
            f"max(CASE WHEN v._source = i._source "
            f"AND v.updated_at IS NOT DISTINCT FROM i.updated_at "
            f"AND v._row_hash = i._row_hash AND NOT v._deleted "
            f"AND (v._extracted_at < i._extracted_at OR (v._extracted_at = i._extracted_at "
            f"AND v._load_id <= i._load_id)) THEN 1 ELSE 0 END) AS same, "
            f"min(CASE WHEN v._source = i._source AND NOT v._deleted "
            f"AND COALESCE(v.updated_at, v._extracted_at) < i.updated_at "
            f"THEN 1 ELSE 0 END) AS newer, "
            f"sum(CASE WHEN v._source = i._source AND (v.updated_at IS NULL "
            f"OR i.updated_at IS NULL OR v.updated_at = i.updated_at) "
            f"THEN 1 ELSE 0 END) AS peers, "
            f"max(CASE WHEN v._source = i._source THEN 1 ELSE 0 END) AS own, "
            f"max(CASE WHEN v._deleted THEN 1 ELSE 0 END) AS dead, "
            f"count(DISTINCT v._source) AS sources "
            f"FROM {t_versions} v JOIN {INCOMING_TABLE} i ON {key_sql(ent, 'v')} = i._record_key "
            f"GROUP BY i._record_key"
        )
    ).all()
    return rows


def _combine(a: Row, b: Row) -> Row:
    """Two deliveries of the same version: lineage of the first extraction, last seen of the
    last. Both are order-free (min/max), which keeps reloads deterministic."""
    first = min(a, b, key=lambda r: (r["_extracted_at"], r["_load_id"]))
    out = dict(first)
    out["_last_seen_at"] = max(a["_last_seen_at"], b["_last_seen_at"])
    out["_recorded_at"] = a.get("_recorded_at") or b.get("_recorded_at")
    return out


def _version_id(ent: Entity, r: Row) -> tuple[Any, ...]:
    return (record_key(ent, r), r["_source"], canonical(r["updated_at"]), r["_row_hash"])


def apply_dicts(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: list[Row],
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules,
) -> int:
    """The per-record path: ``_simpul_keys`` holds exactly the keys of ``incoming``."""
    t_versions = qualified("core", f"{ent.name}_versions")
    kx = key_sql(ent)
    old_versions = fetch(conn, t_versions, kx)
    stored: dict[tuple[Any, ...], Row] = {_version_id(ent, r): r for r in old_versions}
    for r in incoming:
        vid = _version_id(ent, r)
        stored[vid] = _combine(stored[vid], r) if vid in stored else r
    versions = group(ent, stored.values())

    key = hashing_key()
    new_core: dict[str, list[Row]] = {}
    new_history: dict[str, list[Row]] = {}
    new_conflicts: dict[str, list[Row]] = {}
    for rk, rows in versions.items():
        core, new_history[rk], new_conflicts[rk] = derive(ent, rules, rk, rows, key)
        new_core[rk] = [core] if core else []

    sync(
        conn, wh, t_versions, kx, versions_schema(ent), group(ent, old_versions), versions,
        lambda r: _version_id(ent, r), {"_recorded_at": now},
    )  # fmt: skip
    merged = _sync_core(conn, wh, ent, new_core, now)
    _sync_history(conn, wh, ent, new_history, now)
    _sync_conflicts(conn, wh, ent, new_conflicts, load_id, now)
    return merged


def _sync_core(
    conn: Connection, wh: Warehouse, ent: Entity, rows: dict[str, list[Row]], now: datetime
) -> int:
    t_core, kx = qualified("core", ent.name), key_sql(ent)
    old = group(ent, fetch(conn, t_core, kx))
    return sync(
        conn, wh, t_core, kx, core_schema(ent), old, rows,
        lambda r: (record_key(ent, r),), {"_merged_at": now},
    )  # fmt: skip


def _sync_history(
    conn: Connection, wh: Warehouse, ent: Entity, rows: dict[str, list[Row]], now: datetime
) -> None:
    t_history, kx = qualified("core", f"{ent.name}_history"), key_sql(ent)
    old = group(ent, fetch(conn, t_history, kx))
    sync(
        conn, wh, t_history, kx, history_schema(ent), old, rows,
        lambda r: (canonical(utc(r["valid_from"])),),
        {"_recorded_at": now},
    )  # fmt: skip


def _sync_conflicts(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    rows: dict[str, list[Row]],
    load_id: str,
    now: datetime,
) -> None:
    old = fetch(conn, "ops.merge_conflicts", "record_key", f" AND entity = '{ent.name}'")
    ident_cols = [c for c in CONFLICTS.names[:8] if c != "observed_at"]
    sync(
        conn, wh, "ops.merge_conflicts", f"entity = '{ent.name}' AND record_key", CONFLICTS,
        group(ent, old, lambda r: str(r["record_key"])), rows,
        lambda r: tuple(canonical(r[c]) for c in ident_cols),
        {"load_id": load_id, "detected_at": now},
    )  # fmt: skip
