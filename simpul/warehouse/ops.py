"""Committing a delivery: raw rows, core merge, findings, quarantine, cursor and the load record
all in one transaction, so a crash leaves either the whole delivery or none of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul import atrest
from simpul.config import PipelineSettings
from simpul.landing import Manifest
from simpul.model import Entity, entity
from simpul.warehouse import merge
from simpul.warehouse.engine import Warehouse, qualified, quote_ident


class ReconcileError(Exception):
    pass


def get_cursor(wh: Warehouse, source: str, stream: str) -> str | None:
    return wh.scalar(
        "select cursor_value from ops.cursors where source = :s and stream = :t",
        {"s": source, "t": stream},
    )


def _ensure_raw_table(conn: Connection, wh: Warehouse, table: str, columns: list[str]) -> None:
    """raw.<source>_<stream>: the delivered columns as text, plus row number and lineage.

    A delivery with new columns adds them (additive drift is kept, never dropped).
    """
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


def _lineage(table: pa.Table, manifest: Manifest) -> pa.Table:
    """The delivery's lineage on every row: constants, repeated by Arrow (no Python lists)."""
    n = table.num_rows
    extracted = datetime.fromisoformat(manifest.extracted_at)
    table = table.append_column("_load_id", _constant(manifest.load_id, pa.string(), n))
    table = table.append_column("_source", _constant(manifest.source, pa.string(), n))
    return table.append_column(
        "_extracted_at", _constant(extracted, pa.timestamp("us", tz="UTC"), n)
    )


def _constant(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), n)


def _merge(conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, now: datetime) -> int:
    """Store the delivery's versions and recompute the records it touches (core row, SCD2
    history, conflicts; see :mod:`simpul.warehouse.merge`); returns core rows written."""
    if rows.num_rows == 0:
        return 0
    load_id = rows.column("_load_id")[0].as_py()
    if merge.has_history(ent):
        versions = merge.version_table(ent, rows)
        written = merge.apply_versions(conn, wh, ent, versions, load_id=load_id, now=now)
    else:
        written = merge.upsert(conn, wh, ent, rows, now=now)
    # open quarantine rows of earlier deliveries whose record has now arrived valid (PostgreSQL
    # without statistics on the keys re-scanned them per quarantine row: minutes at 100,000)
    if wh.dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {merge.KEYS_TABLE}")
    conn.execute(
        sa.text(
            f"UPDATE ops.quarantine SET status = 'resolved', resolved_at = :now "
            f"WHERE status = 'open' AND entity = :e AND EXISTS (SELECT 1 FROM "
            f"{merge.KEYS_TABLE} k WHERE k._record_key = ops.quarantine.record_key)"
        ),
        {"now": now, "e": ent.name},
    )
    conn.exec_driver_sql(f"DROP TABLE {merge.KEYS_TABLE}")
    return written


def commit_delivery(
    wh: Warehouse,
    *,
    pipeline: str,
    settings: PipelineSettings,
    manifest: Manifest,
    mapped: pa.Table,
    findings: pa.Table,
    summary: dict[str, Any],
    deletions: Manifest | None = None,
) -> dict[str, Any]:
    """Commit one delivery (and, with ``deletions``, the source's deletion feed landed beside
    it) in one transaction; see the module docstring."""
    ent = entity(settings.entity)
    now = datetime.now(UTC)
    status_col = mapped.column("_status")
    n_valid = pc.sum(pc.equal(status_col, "valid")).as_py() or 0
    n_quar = pc.sum(pc.equal(status_col, "quarantine")).as_py() or 0
    n_dup = pc.sum(pc.equal(status_col, "duplicate")).as_py() or 0
    if n_valid + n_quar + n_dup != manifest.row_count:
        raise ReconcileError(
            f"{manifest.load_id}: received {manifest.row_count} but staged "
            f"{n_valid} valid + {n_quar} quarantined + {n_dup} duplicate"
        )
    held = bool(summary.get("held"))
    with wh.begin() as conn:
        prior = conn.execute(
            sa.text("select status from ops.loads where load_id = :id"), {"id": manifest.load_id}
        ).scalar()
        if prior == "loaded":
            row = (
                conn.execute(
                    sa.text("select * from ops.loads where load_id = :id"), {"id": manifest.load_id}
                )
                .mappings()
                .one()
            )
            return {**dict(row), "status": "already_loaded"}
        # raw: every delivered row, as delivered
        raw_name = f"{manifest.source}_{manifest.stream}"
        _ensure_raw_table(conn, wh, raw_name, manifest.columns)
        conn.execute(
            sa.text(f"DELETE FROM {qualified('raw', raw_name)} WHERE _load_id = :id"),
            {"id": manifest.load_id},
        )
        landed = atrest.read_table(manifest.file)
        raw = landed.append_column("_row", pa.array(range(1, landed.num_rows + 1), pa.int64()))
        wh.bulk_insert(conn, qualified("raw", raw_name), _lineage(raw, manifest))

        for t in ("ops.dq_findings", "ops.quarantine"):
            conn.execute(sa.text(f"DELETE FROM {t} WHERE load_id = :id"), {"id": manifest.load_id})
        if findings.num_rows:
            f = findings.rename_columns(
                ["row_number" if c == "row" else c for c in findings.column_names]
            )
            f = f.append_column("load_id", _constant(manifest.load_id, pa.string(), f.num_rows))
            f = f.append_column(
                "found_at", _constant(now, pa.timestamp("us", tz="UTC"), f.num_rows)
            )
            wh.bulk_insert(conn, "ops.dq_findings", f)

        merged = 0
        if not held:
            valid = mapped.filter(pc.equal(status_col, "valid"))
            merged = _merge(conn, wh, ent, _lineage(valid, manifest), now)
            _quarantine(conn, wh, ent, manifest, mapped, landed, findings, now)
            if manifest.cursor_to:
                _advance_cursor(conn, manifest, now)
            if deletions is not None:
                _apply_deletions(conn, wh, ent, pipeline, deletions, now)
        _record_schema_changes(conn, pipeline, manifest, summary.get("schema_drift"), now)
        files = summary.get("files")
        if files is not None:
            from simpul import ledger

            ledger.record_files(
                conn,
                load_id=manifest.load_id,
                source=manifest.source,
                stream=manifest.stream,
                files=files,
                held=held,
                now=now,
            )
        warned = len(
            set(findings.filter(pc.equal(findings["severity"], "warn"))["row"].to_pylist())
        )
        record = {
            "load_id": manifest.load_id,
            "pipeline": pipeline,
            "source": manifest.source,
            "stream": manifest.stream,
            "entity": ent.name,
            "status": "held" if held else "loaded",
            "extracted_at": datetime.fromisoformat(manifest.extracted_at),
            "loaded_at": now,
            "cursor_from": manifest.cursor_from,
            "cursor_to": manifest.cursor_to,
            "rows_received": manifest.row_count,
            "rows_loaded": 0 if held else n_valid,
            "rows_quarantined": 0 if held else n_quar,
            "rows_duplicate": n_dup,
            "rows_held": n_valid + n_quar if held else 0,
            "rows_warned": warned,
            "sha256": manifest.sha256,
            "landed_file": manifest.file,
            "bytes_transferred": manifest.bytes_transferred,
            "pull_runs": manifest.pull_runs,
            "message": (
                summary.get("hold_message")
                or f"held: error rate {summary.get('error_rate')} above the gate "
                f"{settings.max_error_rate} / ditahan: tingkat galat di atas ambang"
                if held
                else None
            ),
        }
        rejected = [f for f in summary.get("files") or [] if f.get("status") == "rejected"]
        if rejected:  # one bad file never blocks the others, but it is never silent either
            note = "; ".join(f"{f['reason_en']} / {f['reason_id']}" for f in rejected)
            record["message"] = "; ".join(
                m
                for m in (
                    record["message"],
                    f"{len(rejected)} file(s) rejected / {len(rejected)} berkas ditolak: {note}",
                )
                if m
            )
        upsert(conn, "ops.loads", record, ("load_id",))
    return {**record, "merged": merged}


def quarantine_key(ent: Entity, row: dict[str, Any]) -> str:
    """``ops.quarantine.record_key``: the natural key, parts joined with '|' (as the merge's
    record keys, so a record that arrives valid later resolves its quarantine entry)."""
    return "|".join("" if row.get(k) is None else str(row[k]) for k in ent.key)


def _quarantine(conn, wh, ent, manifest, mapped, landed, findings, now) -> None:
    quarantined = mapped.filter(pc.equal(mapped["_status"], "quarantine"))
    if not quarantined.num_rows:
        return
    errors = findings.filter(pc.equal(findings["severity"], "error")).to_pylist()
    by_row: dict[int, list[dict]] = {}
    for f in errors:
        by_row.setdefault(f["row"], []).append(f)
    rows_out: dict[str, list] = {c: [] for c in QUARANTINE_SCHEMA.names}
    landed_rows = landed.column_names
    qrows = quarantined.select(["_row", *ent.key]).to_pylist()
    raws = (
        landed.take(pa.array([q["_row"] - 1 for q in qrows], pa.int64())).to_pylist()
        if landed_rows
        else [{} for _ in qrows]
    )  # the delivered rows, taken in one go
    for q, raw in zip(qrows, raws, strict=True):
        row = q["_row"]
        fs = sorted(by_row.get(row, []), key=lambda f: f["rule"])
        for col, val in (
            ("load_id", manifest.load_id),
            ("source", manifest.source),
            ("stream", manifest.stream),
            ("entity", ent.name),
            ("row_number", row),
            ("record_key", quarantine_key(ent, q)),
            ("rules", ",".join(f["rule"] for f in fs)),
            ("reasons_en", "; ".join(f"{f['field']}: {f['reason_en']}" for f in fs)),
            ("reasons_id", "; ".join(f"{f['field']}: {f['reason_id']}" for f in fs)),
            ("record_json", json.dumps(raw, ensure_ascii=False)),
            ("status", "open"),
            ("quarantined_at", now),
        ):
            rows_out[col].append(val)
    wh.bulk_insert(conn, "ops.quarantine", pa.table(rows_out, schema=QUARANTINE_SCHEMA))
    # the same bad record delivered again (inclusive cursor, re-sent file): one open entry
    conn.execute(
        sa.text(
            "UPDATE ops.quarantine SET status = 'superseded', resolved_at = :now "
            "WHERE status = 'open' AND entity = :e AND load_id <> :id AND record_key IN "
            "(SELECT record_key FROM ops.quarantine WHERE load_id = :id)"
        ),
        {"now": now, "e": ent.name, "id": manifest.load_id},
    )


def _advance_cursor(conn: Connection, manifest: Manifest, now: datetime) -> None:
    current = conn.execute(
        sa.text("select cursor_value from ops.cursors where source = :s and stream = :t"),
        {"s": manifest.source, "t": manifest.stream},
    ).scalar()
    if current is not None and current >= (manifest.cursor_to or ""):
        return
    upsert(
        conn,
        "ops.cursors",
        {
            "source": manifest.source,
            "stream": manifest.stream,
            "cursor_value": manifest.cursor_to,
            "load_id": manifest.load_id,
            "updated_at": now,
        },
        ("source", "stream"),
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _apply_deletions(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    pipeline: str,
    deletions: Manifest,
    now: datetime,
) -> None:
    """Soft-delete the keys of a landed deletion feed (key columns + deletion time, in that
    order), inside the delivery's transaction: raw rows, tombstones, quarantine for unreadable
    rows, the deletion cursor and its own load record."""
    prior = conn.execute(
        sa.text("select status from ops.loads where load_id = :id"), {"id": deletions.load_id}
    ).scalar()
    if prior == "loaded":
        return
    raw_name = f"{deletions.source}_{deletions.stream}"
    landed = atrest.read_table(deletions.file)
    _ensure_raw_table(conn, wh, raw_name, deletions.columns)
    conn.execute(
        sa.text(f"DELETE FROM {qualified('raw', raw_name)} WHERE _load_id = :id"),
        {"id": deletions.load_id},
    )
    raw = landed.append_column("_row", pa.array(range(1, landed.num_rows + 1), pa.int64()))
    wh.bulk_insert(conn, qualified("raw", raw_name), _lineage(raw, deletions))
    conn.execute(
        sa.text("DELETE FROM ops.quarantine WHERE load_id = :id"), {"id": deletions.load_id}
    )
    when: dict[Any, datetime] = {}
    bad: list[tuple[int, dict[str, Any]]] = []
    cols = landed.column_names
    nkey = len(ent.key)
    for i, r in enumerate(landed.to_pylist(), start=1):
        parts = tuple((r.get(c) or "").strip() for c in cols[:nkey])
        at = _parse_time(r.get(cols[-1])) if len(cols) > nkey else None
        if not all(parts) or at is None:
            bad.append((i, r))
            continue
        key = parts[0] if nkey == 1 else parts
        when[key] = max(at, when.get(key, at))
    if when:
        merge.soft_delete(
            wh, ent.name, list(when), deletions.source, deletions.load_id, when, conn=conn
        )
    if bad:
        wh.bulk_insert(
            conn,
            "ops.quarantine",
            pa.Table.from_pylist(
                [
                    {
                        "load_id": deletions.load_id,
                        "source": deletions.source,
                        "stream": deletions.stream,
                        "entity": ent.name,
                        "row_number": i,
                        "record_key": "|".join(str(r.get(c) or "") for c in cols[:nkey]),
                        "rules": "deletion_unreadable",
                        "reasons_en": "deletion without a key or a readable deletion time",
                        "reasons_id": "penghapusan tanpa kunci atau waktu hapus yang terbaca",
                        "record_json": json.dumps(r, ensure_ascii=False),
                        "status": "open",
                        "quarantined_at": now,
                    }
                    for i, r in bad
                ],
                schema=QUARANTINE_SCHEMA,
            ),
        )
    if deletions.cursor_to and _parse_time(deletions.cursor_to) is not None:
        # a garbage time would sort after every real one and freeze the feed: not a cursor
        _advance_cursor(conn, deletions, now)
    record = {
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
        "rows_loaded": deletions.row_count - len(bad),
        "rows_quarantined": len(bad),
        "rows_duplicate": 0,
        "rows_warned": 0,
        "sha256": deletions.sha256,
        "landed_file": deletions.file,
        "message": None,
    }
    upsert(conn, "ops.loads", record, ("load_id",))


QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field(c, pa.int64() if c == "row_number" else pa.string())
        for c in (
            "load_id",
            "source",
            "stream",
            "entity",
            "row_number",
            "record_key",
            "rules",
            "reasons_en",
            "reasons_id",
            "record_json",
            "status",
        )
    ]
    + [pa.field("quarantined_at", pa.timestamp("us", tz="UTC"))]
)


def last_loaded_manifest(wh: Warehouse, source: str, stream: str) -> dict[str, Any] | None:
    """The ``ops.loads`` row of the last loaded, non-empty delivery of (source, stream): the
    baseline a new delivery's columns are compared with (schema drift)."""
    rows = wh.query(
        "select load_id, landed_file from ops.loads where source = :s and stream = :t "
        "and status in ('loaded', 'held') and rows_received > 0 "
        "order by loaded_at desc, load_id desc limit 1",
        {"s": source, "t": stream},
    )
    return rows[0] if rows else None


def record_schema_changes(
    wh: Warehouse, pipeline: str, manifest: Manifest, drift: dict[str, Any] | None
) -> None:
    """Record a drift in its own transaction (a stream stopped before loading)."""
    with wh.begin() as conn:
        _record_schema_changes(conn, pipeline, manifest, drift, datetime.now(UTC))


def _record_schema_changes(
    conn: Connection,
    pipeline: str,
    manifest: Manifest,
    drift: dict[str, Any] | None,
    now: datetime,
) -> None:
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


def upsert(conn: Connection, table: str, record: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Insert ``record`` into ``table`` or update the row with the same ``keys``: one
    ``INSERT ... ON CONFLICT DO UPDATE`` on both engines, never a delete and re-insert."""
    cols = list(record)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in keys)
    conn.execute(
        sa.text(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
            f"ON CONFLICT ({', '.join(keys)}) DO "
            + (f"UPDATE SET {updates}" if updates else "NOTHING")
        ),
        record,
    )
