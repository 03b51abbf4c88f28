"""A source's deletion feed, landed beside a delivery and applied in its transaction: raw
rows, tombstones (:func:`simpul.warehouse.merge.soft_delete`), quarantine for unreadable rows,
the deletion cursor and its own load record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Connection

from simpul import atrest
from simpul.landing import Manifest
from simpul.model import Entity
from simpul.warehouse import merge
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.ops.quarantine import quarantine_unreadable_deletions
from simpul.warehouse.ops.raw import store_raw
from simpul.warehouse.ops.records import advance_cursor, clear_load, load_status, upsert

Unreadable = list[tuple[int, dict[str, Any]]]


def parse_time(value: str | None) -> datetime | None:
    """An ISO time (``Z`` allowed, naive read as UTC) in UTC; None if empty or unreadable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def read_deletions(landed: pa.Table, nkey: int) -> tuple[dict[Any, datetime], Unreadable]:
    """Key columns + deletion time, in that order: the latest time per key, and the rows
    without a key or a readable time (with their row numbers)."""
    when: dict[Any, datetime] = {}
    bad: Unreadable = []
    cols = landed.column_names
    for i, r in enumerate(landed.to_pylist(), start=1):
        parts = tuple((r.get(c) or "").strip() for c in cols[:nkey])
        at = parse_time(r.get(cols[-1])) if len(cols) > nkey else None
        if not all(parts) or at is None:
            bad.append((i, r))
            continue
        key = parts[0] if nkey == 1 else parts
        when[key] = max(at, when.get(key, at))
    return when, bad


def apply_deletions(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    pipeline: str,
    deletions: Manifest,
    now: datetime,
) -> None:
    """Soft-delete the keys of a landed deletion feed inside the delivery's transaction (once:
    a feed already loaded is skipped)."""
    if load_status(conn, deletions.load_id) == "loaded":
        return
    store_raw(conn, wh, deletions)
    landed = atrest.read_table(deletions.file)  # a deletion feed: keys and times, small
    clear_load(conn, "ops.quarantine", deletions.load_id)
    when, bad = read_deletions(landed, len(ent.key))
    if when:
        merge.soft_delete(
            wh, ent.name, list(when), deletions.source, deletions.load_id, when, conn=conn
        )
    if bad:
        key_cols = landed.column_names[: len(ent.key)]
        quarantine_unreadable_deletions(conn, wh, ent, deletions, bad, key_cols, now)
    if deletions.cursor_to and parse_time(deletions.cursor_to) is not None:
        # a garbage time would sort after every real one and freeze the feed: not a cursor
        advance_cursor(conn, deletions, now)
    record = _deletion_record(ent, pipeline, deletions, len(bad), now)
    upsert(conn, "ops.loads", record, ("load_id",))


def _deletion_record(
    ent: Entity, pipeline: str, deletions: Manifest, n_bad: int, now: datetime
) -> dict[str, Any]:
    """The feed's own ``ops.loads`` row."""
    return {
        "load_id": deletions.load_id,
        "pipeline": pipeline,
        "source": deletions.source,
        "stream": deletions.stream,
        "entity": ent.name,
        "status": "loaded",
        "extracted_at": datetime.fromisoformat(deletions.extracted_at),
        "loaded_at": now,
        "cursor_from": deletions.cursor_from,
        "cursor_to": deletions.cursor_to,
        "rows_received": deletions.row_count,
        "rows_loaded": deletions.row_count - n_bad,
        "rows_quarantined": n_bad,
        "rows_duplicate": 0,
        "rows_warned": 0,
        "sha256": deletions.sha256,
        "landed_file": deletions.file,
        "message": None,
    }
