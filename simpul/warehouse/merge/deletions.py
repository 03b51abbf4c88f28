"""A source's deletions as versions: nothing is removed, the deletion is a version like any
other (the history closes, core gets ``_deleted_at`` once no source still has the record)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from simpul.model import Entity
from simpul.model import entity as get_entity
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.merge.derive import Row
from simpul.warehouse.merge.keys import row_hash
from simpul.warehouse.merge.shapes import KEYS_TABLE, has_history
from simpul.warehouse.merge.versions import apply_versions


def tombstones(
    ent: Entity,
    keys: Iterable[str | tuple[Any, ...]],
    source: str,
    load_id: str,
    deleted_at: datetime,
) -> list[Row]:
    """Deletion versions: the source no longer has these records from ``deleted_at`` on."""
    out = []
    for k in dict.fromkeys(keys):
        parts = k if isinstance(k, tuple) else (k,)
        if len(parts) != len(ent.key):
            raise ValueError(f"{ent.name}: a key has {len(ent.key)} part(s)")
        r: Row = {c: None for c in ent.column_names}
        r.update(dict(zip(ent.key, parts, strict=True)))
        r.update(
            updated_at=deleted_at,
            _load_id=load_id,
            _source=source,
            _extracted_at=deleted_at,
            _last_seen_at=deleted_at,
            _deleted=True,
        )
        r["_row_hash"] = row_hash(ent, r, True)
        out.append(r)
    return out


def soft_delete(
    wh: Warehouse,
    entity: str,
    keys: Iterable[str | tuple[Any, ...]],
    source: str,
    load_id: str,
    deleted_at: datetime | dict[Any, datetime] | None = None,
    *,
    conn: Connection | None = None,
) -> int:
    """Record that ``source`` deleted these records (e.g. NIKs SIAK reports as deleted).

    ``deleted_at`` is one time for all keys or a time per key. With ``conn`` it runs inside
    the caller's transaction (a delivery's load), else in its own. Returns the number of core
    rows changed.
    """
    ent = get_entity(entity)
    if not has_history(ent):
        raise ValueError(f"{ent.name}: soft deletes need versioned history (penduduk)")
    now = datetime.now(UTC)
    rows: list[Row] = []
    for k in dict.fromkeys(keys):
        at = deleted_at.get(k) if isinstance(deleted_at, dict) else deleted_at
        rows += tombstones(ent, [k], source, load_id, at or now)
    if conn is not None:
        changed = apply_versions(conn, wh, ent, rows, load_id=load_id, now=now)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
        return changed
    with wh.begin() as own:
        changed = apply_versions(own, wh, ent, rows, load_id=load_id, now=now)
        own.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
    return changed
