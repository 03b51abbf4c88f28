"""The ops bookkeeping a delivery leaves: cursors, load records and schema changes, each row
written by one ``INSERT ... ON CONFLICT DO UPDATE`` (:func:`simpul.warehouse.engine.upsert_sql`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.landing import Manifest
from simpul.warehouse.engine import Warehouse, upsert_sql


def upsert(conn: Connection, table: str, record: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Insert ``record`` into ``table`` or update the row with the same ``keys``: one
    ``INSERT ... ON CONFLICT DO UPDATE`` on both engines, never a delete and re-insert."""
    values = f"VALUES ({', '.join(':' + c for c in record)})"
    conn.execute(sa.text(upsert_sql(table, list(record), keys, values)), record)


def get_cursor(wh: Warehouse, source: str, stream: str) -> str | None:
    value = wh.scalar(
        "select cursor_value from ops.cursors where source = :s and stream = :t",
        {"s": source, "t": stream},
    )
    return None if value is None else str(value)


def advance_cursor(conn: Connection, manifest: Manifest, now: datetime) -> None:
    """Move the (source, stream) cursor to the delivery's ``cursor_to``, never backwards."""
    current = conn.execute(
        sa.text("select cursor_value from ops.cursors where source = :s and stream = :t"),
        {"s": manifest.source, "t": manifest.stream},
    ).scalar()
    if current is not None and current >= (manifest.cursor_to or ""):
        return
    record = {
        "source": manifest.source,
        "stream": manifest.stream,
        "cursor_value": manifest.cursor_to,
        "load_id": manifest.load_id,
        "updated_at": now,
    }
    values = f"VALUES ({', '.join(':' + c for c in record)})"
    # checked again in the statement: a concurrent load (another province partition) may
    # have moved it further since the read above; PostgreSQL re-checks after it commits
    sql = upsert_sql("ops.cursors", list(record), ("source", "stream"), values)
    keep_newer = " WHERE ops.cursors.cursor_value IS NULL OR ops.cursors.cursor_value < "
    conn.execute(sa.text(sql + keep_newer + "EXCLUDED.cursor_value"), record)


def load_status(conn: Connection, load_id: str) -> str | None:
    """``ops.loads.status`` of a load, None if it was never recorded."""
    status = conn.execute(
        sa.text("select status from ops.loads where load_id = :id"), {"id": load_id}
    ).scalar()
    return None if status is None else str(status)


def clear_load(conn: Connection, table: str, load_id: str) -> None:
    """Delete a load's earlier rows from ``table`` (a retried load writes them again)."""
    conn.execute(sa.text(f"DELETE FROM {table} WHERE load_id = :id"), {"id": load_id})


def record_schema_changes(
    wh: Warehouse, pipeline: str, manifest: Manifest, drift: dict[str, Any] | None
) -> None:
    """Record a drift in its own transaction (a stream stopped before loading)."""
    with wh.begin() as conn:
        write_schema_changes(conn, pipeline, manifest, drift, datetime.now(UTC))


def write_schema_changes(
    conn: Connection,
    pipeline: str,
    manifest: Manifest,
    drift: dict[str, Any] | None,
    now: datetime,
) -> None:
    """The columns a delivery added or removed (``ops.schema_changes``), in ``conn``."""
    if not drift or not (drift.get("added") or drift.get("removed")):
        return
    conn.execute(
        sa.text("DELETE FROM ops.schema_changes WHERE load_id = :id"), {"id": manifest.load_id}
    )
    mapped = set(drift.get("mapped") or [])
    rows = [
        {
            "load_id": manifest.load_id,
            "pipeline": pipeline,
            "source": manifest.source,
            "stream": manifest.stream,
            "change": change,
            "column_name": col,
            "mapped": col in mapped,
            "action": drift.get("action"),
            "previous_load_id": drift.get("previous_load_id"),
            "schema_hash_before": drift.get("schema_hash_before"),
            "schema_hash_after": manifest.schema_hash,
            "detected_at": now,
        }
        for change in ("added", "removed")
        for col in drift.get(change) or []
    ]
    conn.execute(
        sa.text(
            f"INSERT INTO ops.schema_changes ({', '.join(rows[0])}) "
            f"VALUES ({', '.join(':' + k for k in rows[0])})"
        ),
        rows,
    )
