"""Committing one delivery: raw rows, core merge, findings, quarantine, cursor and the load
record all in one transaction, so a crash leaves either the whole delivery or none of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul import atrest
from simpul.config import PipelineSettings
from simpul.landing import Manifest
from simpul.model import Entity, entity
from simpul.warehouse import merge
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.ops.deletions import apply_deletions
from simpul.warehouse.ops.quarantine import quarantine_rows
from simpul.warehouse.ops.raw import READ_BATCH, TS, constant, lineage, read_batches, store_raw
from simpul.warehouse.ops.records import (
    advance_cursor,
    clear_load,
    load_status,
    upsert,
    write_schema_changes,
)

MERGE_CHUNK = 250_000  # valid rows merged at a time: bounds the load's memory, not its result


class ReconcileError(Exception):
    pass


def commit_delivery(
    wh: Warehouse,
    *,
    pipeline: str,
    settings: PipelineSettings,
    manifest: Manifest,
    mapped: pa.Table | Path,
    findings: pa.Table,
    summary: dict[str, Any],
    deletions: Manifest | None = None,
) -> dict[str, Any]:
    """Commit one delivery (and, with ``deletions``, the source's deletion feed landed beside
    it) in one transaction; see the module docstring. ``mapped``: the staged rows, or their
    Parquet file (read a merge chunk at a time: a large delivery is never in memory whole)."""
    ent = entity(settings.entity)
    now = datetime.now(UTC)
    status = _columns(mapped, ["_status", "_row", *ent.key])
    counts = _staged_counts(status, manifest)
    held = bool(summary.get("held"))
    with wh.begin() as conn:
        if load_status(conn, manifest.load_id) == "loaded":
            row = conn.execute(
                sa.text("select * from ops.loads where load_id = :id"), {"id": manifest.load_id}
            )
            return {**dict(row.mappings().one()), "status": "already_loaded"}
        store_raw(conn, wh, manifest)
        _store_findings(conn, wh, manifest, findings, now)
        merged = 0
        if not held:
            for rows in _key_chunks(ent, mapped, status):
                merged += _merge(conn, wh, ent, lineage(rows, manifest), now)
            quarantine_rows(conn, wh, ent, manifest, status, findings, now)
            if manifest.cursor_to:
                advance_cursor(conn, manifest, now)
            if deletions is not None:
                apply_deletions(conn, wh, ent, pipeline, deletions, now)
        write_schema_changes(conn, pipeline, manifest, summary.get("schema_drift"), now)
        _record_files(conn, manifest, summary, held, now)
        record = _load_record(
            ent, pipeline, settings, manifest, summary, counts, findings, held, now
        )
        upsert(conn, "ops.loads", record, ("load_id",))
    return {**record, "merged": merged}


def _staged_counts(mapped: pa.Table, manifest: Manifest) -> dict[str, int]:
    """Rows staged valid, quarantined and duplicate: together exactly the rows received."""
    status_col = mapped.column("_status")
    counts = {
        s: pc.sum(pc.equal(status_col, s)).as_py() or 0
        for s in ("valid", "quarantine", "duplicate")
    }
    if sum(counts.values()) != manifest.row_count:
        raise ReconcileError(
            f"{manifest.load_id}: received {manifest.row_count} but staged "
            f"{counts['valid']} valid + {counts['quarantine']} quarantined + "
            f"{counts['duplicate']} duplicate"
        )
    return counts


def _store_findings(
    conn: Connection, wh: Warehouse, manifest: Manifest, findings: pa.Table, now: datetime
) -> None:
    """The delivery's data-quality findings (``ops.dq_findings``), replacing a retry's."""
    for t in ("ops.dq_findings", "ops.quarantine"):
        clear_load(conn, t, manifest.load_id)
    if not findings.num_rows:
        return
    f = findings.rename_columns(["row_number" if c == "row" else c for c in findings.column_names])
    f = f.append_column("load_id", constant(manifest.load_id, pa.string(), f.num_rows))
    f = f.append_column("found_at", constant(now, TS, f.num_rows))
    wh.bulk_insert(conn, "ops.dq_findings", f)


def _key_chunks(ent: Entity, mapped: pa.Table | Path, status: pa.Table) -> Iterator[pa.Table]:
    """The valid rows in key-disjoint chunks of about :data:`MERGE_CHUNK` rows, each in
    delivery order. Records merge independently of each other and every version of a record
    lands in the same chunk, so merging chunk by chunk (in one transaction) equals merging
    the whole, while the merge's copies of the rows stay the size of a chunk."""
    is_valid = pc.equal(status.column("_status"), "valid")
    valid = pc.indices_nonzero(is_valid)
    if len(valid) <= MERGE_CHUNK:
        if len(valid):
            yield mapped.filter(is_valid) if isinstance(mapped, pa.Table) else _take(mapped, valid)
        return
    keys = merge.record_keys(ent, status.select(list(ent.key)).take(valid))
    order = pc.sort_indices(keys)
    ordered = keys.take(order)
    del keys
    bounds, lo, n = [], 0, len(order)
    while lo < n:
        hi = min(lo + MERGE_CHUNK, n)
        while hi < n and ordered[hi].as_py() == ordered[hi - 1].as_py():
            hi += 1  # never split one record's versions
        bounds.append((lo, hi))
        lo = hi
    del ordered  # the keys are not held through the merge: the bounds are all it needs
    for lo, hi in bounds:
        part = order.slice(lo, hi - lo)
        rows = valid.take(part.take(pc.sort_indices(part)))
        yield mapped.take(rows) if isinstance(mapped, pa.Table) else _take(mapped, rows)


def _columns(mapped: pa.Table | Path, names: list[str]) -> pa.Table:
    """The staged rows' columns ``names`` (those it has), without reading the others."""
    have = mapped.column_names if isinstance(mapped, pa.Table) else _schema(mapped).names
    wanted = [c for c in names if c in have]
    if isinstance(mapped, pa.Table):
        return mapped.select(wanted)
    # a delivery's statuses as a dictionary: three values, not 2,000,000 strings in memory
    return atrest.read_table(mapped, columns=wanted, read_dictionary=["_status"])


def _schema(path: Path) -> pa.Schema:
    schema: pa.Schema = atrest.parquet_file(path).schema_arrow
    return schema


def _take(path: Path, rows: pa.Array) -> pa.Table:
    """The staged file's rows at the (ascending) indices ``rows``, read a batch at a time."""
    wanted = rows.cast(pa.int64()).to_numpy()
    parts, first = [], 0
    for batch in read_batches(path, READ_BATCH):
        end = first + batch.num_rows
        lo, hi = np.searchsorted(wanted, [first, end])
        if hi > lo:
            parts.append(pa.Table.from_batches([batch.take(pa.array(wanted[lo:hi] - first))]))
        first = end
    return pa.concat_tables(parts) if parts else _schema(path).empty_table()


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


def _record_files(
    conn: Connection, manifest: Manifest, summary: dict[str, Any], held: bool, now: datetime
) -> None:
    """The delivered files in the ledger (``ops.files``), when the pull listed them."""
    files = summary.get("files")
    if files is None:
        return
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


def _load_record(
    ent: Entity,
    pipeline: str,
    settings: PipelineSettings,
    manifest: Manifest,
    summary: dict[str, Any],
    counts: dict[str, int],
    findings: pa.Table,
    held: bool,
    now: datetime,
) -> dict[str, Any]:
    """The delivery's ``ops.loads`` row."""
    n_valid, n_quar = counts["valid"], counts["quarantine"]
    warned = findings.filter(pc.equal(findings["severity"], "warn"))["row"].to_pylist()
    return {
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
        "rows_duplicate": counts["duplicate"],
        "rows_held": n_valid + n_quar if held else 0,
        "rows_warned": len(set(warned)),
        "sha256": manifest.sha256,
        "landed_file": manifest.file,
        "bytes_transferred": manifest.bytes_transferred,
        "pull_runs": manifest.pull_runs,
        "message": _load_message(settings, summary, held),
    }


def _load_message(settings: PipelineSettings, summary: dict[str, Any], held: bool) -> str | None:
    """Why a delivery was held, and which of its files were rejected (bilingual)."""
    message: str | None = None
    if held:
        message = (
            summary.get("hold_message")
            or f"held: error rate {summary.get('error_rate')} above the gate "
            f"{settings.max_error_rate} / ditahan: tingkat galat di atas ambang"
        )
    rejected = [f for f in summary.get("files") or [] if f.get("status") == "rejected"]
    if not rejected:  # one bad file never blocks the others, but it is never silent either
        return message
    note = "; ".join(f"{f['reason_en']} / {f['reason_id']}" for f in rejected)
    files = f"{len(rejected)} file(s) rejected / {len(rejected)} berkas ditolak: {note}"
    return "; ".join(m for m in (message, files) if m)
