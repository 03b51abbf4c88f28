"""What changed since the last delivery of a stream: its columns (schema drift, computed once
here for ``transform`` and for the DAG's drift alert) and its size (the row-count gate).

"The last delivery" is one query, :func:`last_delivery`; the two questions differ only in
which deliveries count as a baseline, and say so where they ask.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from connectors.base.files import SOURCE_FILE, SOURCE_ROW
from simpul import handoffs
from simpul.config import PipelineSettings, paths
from simpul.landing import MANIFEST, Manifest
from simpul.mapping import Mapper
from simpul.warehouse import open_warehouse, ops

log = logging.getLogger(__name__)

# the lineage columns the drop connectors add: never drift worth an alert
ADDED_BY_CONNECTORS = frozenset({SOURCE_FILE, SOURCE_ROW, "_file_mtime"})


def last_delivery(
    source: str,
    stream: str,
    *,
    statuses: tuple[str, ...] = ("loaded",),
    other_than: str | None = None,
) -> dict[str, Any] | None:
    """The ``ops.loads`` row (load_id, landed_file, rows_received) of the newest non-empty
    delivery of (source, stream) whose status is one of ``statuses``, leaving out
    ``other_than``; None before the first."""
    marks = ", ".join(f":st{i}" for i in range(len(statuses)))
    params: dict[str, Any] = {"s": source, "t": stream, "id": other_than or ""}
    params.update({f"st{i}": st for i, st in enumerate(statuses)})
    wh = open_warehouse()
    try:
        rows = wh.query(
            "select load_id, landed_file, rows_received from ops.loads "
            f"where source = :s and stream = :t and status in ({marks}) "
            "and load_id <> :id and rows_received > 0 "
            "order by loaded_at desc, load_id desc limit 1",
            params,
        )
    finally:
        wh.dispose()
    return rows[0] if rows else None


def previous_rows(manifest: Manifest) -> int | None:
    """Rows of the last *loaded* delivery of the same stream (the row-count gate's baseline:
    a held delivery is no baseline, or a short one held once would let the next pass)."""
    base = last_delivery(manifest.source, manifest.stream, other_than=manifest.load_id)
    return int(base["rows_received"]) if base else None


def schema_drift(
    name: str, p: PipelineSettings, manifest: Manifest, mapper: Mapper
) -> dict[str, Any] | None:
    """Columns added to or removed from ``manifest`` since the last loaded (or held) delivery
    of the same (source, stream), or None when nothing changed (or there is nothing to compare).

    ``mapped`` lists the removed columns the mapping uses (breaking); ``action`` says what
    the pipeline does: ``recorded`` (only additions or unmapped removals), ``warned``
    (``schema_drift: warn``), ``stopped``.
    """
    if not manifest.row_count:
        return None
    # a held delivery counts: its columns were already compared (and alerted on) once
    base = last_delivery(manifest.source, manifest.stream, statuses=("loaded", "held"))
    if base is None or base["load_id"] == manifest.load_id or not base["landed_file"]:
        return None
    before = _columns_of(base)
    if before is None:
        return None
    added = [c for c in manifest.columns if c not in before["columns"]]
    removed = [c for c in before["columns"] if c not in manifest.columns]
    if not added and not removed:
        return None
    mapped = sorted(set(removed) & mapper.spec.source_columns)
    log.warning(
        "%s: schema drift in %s/%s since %s: added %s, removed %s",
        name,
        manifest.source,
        manifest.stream,
        base["load_id"],
        added,
        removed,
    )
    return {
        "added": added,
        "removed": removed,
        "mapped": mapped,
        "action": "warned" if mapped else "recorded",
        "previous_load_id": base["load_id"],
        "schema_hash_before": before.get("schema_hash"),
    }


def _columns_of(base: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of the baseline delivery (fetched if it landed on another host)."""
    path = Path(base["landed_file"]).parent / MANIFEST
    if not path.exists() and handoffs.fetch_delivery(base["load_id"]):  # landed on another host
        path = paths().landing / handoffs.delivery_rel(base["load_id"]) / MANIFEST
    try:
        before: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("schema drift not checked: manifest of %s unreadable", base["load_id"])
        return None
    return before


def unmapped_additions(drift: dict[str, Any] | None, mapped: set[str]) -> list[str]:
    """Added columns worth an alert: not mapped, not the connector's lineage columns."""
    if not drift:
        return []
    return sorted(
        c for c in drift.get("added") or [] if c not in mapped and c not in ADDED_BY_CONNECTORS
    )


def record_drift(name: str, manifest: Manifest, drift: dict[str, Any]) -> None:
    """Best effort: a stopped stream's drift in ops.schema_changes (never hides the stop)."""
    try:
        wh = open_warehouse()
        try:
            ops.record_schema_changes(wh, name, manifest, drift)
        finally:
            wh.dispose()
    except Exception as exc:  # noqa: BLE001 - the stop message matters more than the record
        log.warning("could not record the schema change: %s", type(exc).__name__)


def drift_message(
    p: PipelineSettings, manifest: Manifest, missing: list[str], drift: dict[str, Any] | None
) -> str:
    """Why a stream stopped, in English and Indonesian: the file and the columns."""
    where = f"{manifest.source}/{manifest.stream}"
    if not drift:
        return (
            f"{manifest.file}: delivery lacks columns {missing} that mapping {p.mapping} needs "
            f"(schema changed?) / kiriman tidak memuat kolom {missing} yang dibutuhkan pemetaan "
            f"{p.mapping} (skema berubah?)"
        )
    added = drift["added"]
    since = drift["previous_load_id"]
    new_en = f"; new columns {added} (renamed?)" if added else ""
    new_id = f"; kolom baru {added} (berganti nama?)" if added else ""
    return (
        f"{manifest.file}: schema changed since delivery {since}: columns {missing} that "
        f"mapping {p.mapping} uses are gone{new_en}. Stream {where} is stopped until the "
        f"mapping is updated (or set schema_drift: warn) / skema berubah sejak kiriman "
        f"{since}: kolom {missing} yang dipakai pemetaan {p.mapping} hilang{new_id}. Aliran "
        f"{where} dihentikan sampai pemetaan diperbarui (atau set schema_drift: warn)"
    )
