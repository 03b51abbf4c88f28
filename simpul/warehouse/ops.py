"""Committing a delivery: raw rows, core merge, findings, quarantine, cursor and the load record
all in one transaction, so a crash leaves either the whole delivery or none of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
    n = table.num_rows
    extracted = datetime.fromisoformat(manifest.extracted_at)
    table = table.append_column("_load_id", pa.array([manifest.load_id] * n, pa.string()))
    table = table.append_column("_source", pa.array([manifest.source] * n, pa.string()))
    return table.append_column(
        "_extracted_at", pa.array([extracted] * n, pa.timestamp("us", tz="UTC"))
    )


def _merge(conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, now: datetime) -> int:
    """Store the delivery's versions and recompute the records it touches (core row, SCD2
    history, conflicts; see :mod:`simpul.warehouse.merge`); returns core rows written."""
    if rows.num_rows == 0:
        return 0
    load_id = rows.column("_load_id")[0].as_py()
    versions = merge.versions_from_rows(ent, rows)
    written = merge.apply_versions(conn, wh, ent, versions, load_id=load_id, now=now)
    # open quarantine rows of earlier deliveries whose record has now arrived valid
    conn.execute(
        sa.text(
            f"UPDATE ops.quarantine SET status = 'resolved', resolved_at = :now "
            f"WHERE status = 'open' AND entity = :e AND record_key IN "
            f"(SELECT _record_key FROM {merge.KEYS_TABLE})"
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
) -> dict[str, Any]:
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
        landed = pq.read_table(manifest.file)
        raw = landed.append_column("_row", pa.array(range(1, landed.num_rows + 1), pa.int64()))
        wh.bulk_insert(conn, qualified("raw", raw_name), _lineage(raw, manifest))

        for t in ("ops.dq_findings", "ops.quarantine"):
            conn.execute(sa.text(f"DELETE FROM {t} WHERE load_id = :id"), {"id": manifest.load_id})
        if findings.num_rows:
            f = findings.rename_columns(
                ["row_number" if c == "row" else c for c in findings.column_names]
            )
            f = f.append_column("load_id", pa.array([manifest.load_id] * f.num_rows, pa.string()))
            f = f.append_column(
                "found_at", pa.array([now] * f.num_rows, pa.timestamp("us", tz="UTC"))
            )
            wh.bulk_insert(conn, "ops.dq_findings", f)

        merged = 0
        if not held:
            valid = mapped.filter(pc.equal(status_col, "valid"))
            merged = _merge(conn, wh, ent, _lineage(valid, manifest), now)
            _quarantine(conn, wh, ent, manifest, mapped, landed, findings, now)
            if manifest.cursor_to:
                _advance_cursor(conn, manifest, now)
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
            "rows_warned": warned,
            "sha256": manifest.sha256,
            "landed_file": manifest.file,
            "message": (
                f"held: error rate {summary.get('error_rate')} above the gate "
                f"{settings.max_error_rate} / ditahan: tingkat galat di atas ambang"
                if held
                else None
            ),
        }
        conn.execute(sa.text("DELETE FROM ops.loads WHERE load_id = :load_id"), record)
        conn.execute(
            sa.text(
                f"INSERT INTO ops.loads ({', '.join(record)}) "
                f"VALUES ({', '.join(':' + k for k in record)})"
            ),
            record,
        )
    return {**record, "merged": merged}


def _quarantine(conn, wh, ent, manifest, mapped, landed, findings, now) -> None:
    quarantined = mapped.filter(pc.equal(mapped["_status"], "quarantine"))
    if not quarantined.num_rows:
        return
    errors = findings.filter(pc.equal(findings["severity"], "error")).to_pylist()
    by_row: dict[int, list[dict]] = {}
    for f in errors:
        by_row.setdefault(f["row"], []).append(f)
    key = ent.key[0]
    rows_out: dict[str, list] = {
        c: []
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
            "quarantined_at",
        )
    }
    landed_rows = landed.column_names
    for q in quarantined.select(["_row", key]).to_pylist():
        row = q["_row"]
        fs = sorted(by_row.get(row, []), key=lambda f: f["rule"])
        raw = landed.slice(row - 1, 1).to_pylist()[0] if landed_rows else {}
        for col, val in (
            ("load_id", manifest.load_id),
            ("source", manifest.source),
            ("stream", manifest.stream),
            ("entity", ent.name),
            ("row_number", row),
            ("record_key", q[key]),
            ("rules", ",".join(f["rule"] for f in fs)),
            ("reasons_en", "; ".join(f"{f['field']}: {f['reason_en']}" for f in fs)),
            ("reasons_id", "; ".join(f"{f['field']}: {f['reason_id']}" for f in fs)),
            ("record_json", json.dumps(raw, ensure_ascii=False)),
            ("status", "open"),
            ("quarantined_at", now),
        ):
            rows_out[col].append(val)
    types = {"row_number": pa.int64(), "quarantined_at": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([pa.field(c, types.get(c, pa.string())) for c in rows_out])
    wh.bulk_insert(conn, "ops.quarantine", pa.table(rows_out, schema=schema))
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
    conn.execute(
        sa.text("DELETE FROM ops.cursors WHERE source = :s AND stream = :t"),
        {"s": manifest.source, "t": manifest.stream},
    )
    conn.execute(
        sa.text("INSERT INTO ops.cursors VALUES (:s, :t, :v, :l, :n)"),
        {
            "s": manifest.source,
            "t": manifest.stream,
            "v": manifest.cursor_to,
            "l": manifest.load_id,
            "n": now,
        },
    )
