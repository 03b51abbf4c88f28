"""Transform: map a landed delivery to the canonical model, validate it and decide each row's
fate (valid, quarantine, duplicate); write the staging files and the quality reports."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from simpul import atrest, handoffs, ledger
from simpul.config import PipelineSettings, SimpulConfig, paths
from simpul.landing import Manifest, find_manifest
from simpul.mapping import Mapper, load_mapping
from simpul.pipeline.common import PipelineError, stage_config, staging_dir
from simpul.pipeline.drift import drift_message, record_drift, schema_drift
from simpul.pipeline.gates import hold_message
from simpul.pipeline.mapped import MappedDelivery, map_delivery
from simpul.reports import write_dq_report
from simpul.validate import FAILURE_COLUMNS, STORED_RESULT, run_suite
from simpul.warehouse import open_warehouse

log = logging.getLogger(__name__)


def transform(
    name: str, load_id: str, cfg: SimpulConfig | None = None, *, released_by: str | None = None
) -> dict[str, Any]:
    """Map a landed delivery to the canonical model and validate it; write staging files.

    ``released_by`` names the reviewer who released a held delivery: the error-rate gate is
    then recorded but not applied (failing rows are still quarantined).
    """
    cfg = stage_config(cfg)
    p = cfg.pipeline(name)
    handoffs.fetch_delivery(load_id)
    manifest = find_manifest(paths().landing, load_id)
    mapper = Mapper(load_mapping(p.mapping))
    drift, missing = _check_columns(name, p, manifest, mapper)
    delivery = map_delivery(manifest, mapper, missing)
    stage = staging_dir(load_id)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    findings, summary = _validate(delivery, p, cfg, stage)
    status, error_rate, warned = _row_status(delivery, findings, mapper, manifest)
    frame = delivery.frame
    frame["_status"] = status.to_numpy()
    counts = _reconciled_counts(manifest, status, warned)
    held_because = hold_message(p, manifest, counts, error_rate, released_by)
    held = held_because is not None
    atrest.write_table(pa.Table.from_pandas(frame, preserve_index=False), stage / "mapped.parquet")
    atrest.write_table(
        pa.Table.from_pandas(findings.astype({"row": "int64"}), preserve_index=False),
        stage / "findings.parquet",
    )
    result: dict[str, Any] = {
        "pipeline": name,
        "load_id": load_id,
        "staging": str(stage),
        **counts,
        "error_rate": round(error_rate, 4),
        "held": held,
        "hold_message": held_because,
        "released_by": released_by,
        "rules_failed": {
            c["rule"]: c["failed_rows"] for c in summary["checks"] if c["failed_rows"]
        },
        "schema_drift": drift,
        "held_rows": counts["valid"] + counts["quarantined"] if held else 0,
        "files": ledger.read_sidecar(manifest.file),
    }
    result["reports"] = _write_reports(load_id, stage, result, findings, mapper, delivery)
    (stage / "summary.json").write_text(json.dumps(result, indent=2))
    handoffs.publish_stage(load_id)
    log.info(
        "validated %s: %d valid, %d quarantined, %d duplicate, %d warned",
        load_id,
        counts["valid"],
        counts["quarantined"],
        counts["duplicate"],
        counts["warned"],
    )
    return result


def _reconciled_counts(manifest: Manifest, status: pd.Series, warned: int) -> dict[str, int]:
    """Rows received, valid, quarantined, duplicate and warned; every row received must be
    exactly one of the first three, or nothing is staged."""
    counts = {
        "received": manifest.row_count,
        "valid": int((status == "valid").sum()),
        "quarantined": int((status == "quarantine").sum()),
        "duplicate": int((status == "duplicate").sum()),
        "warned": warned,
    }
    if counts["valid"] + counts["quarantined"] + counts["duplicate"] != counts["received"]:
        raise PipelineError(f"{manifest.load_id}: row counts do not reconcile: {counts}")
    return counts


def _check_columns(
    name: str, p: PipelineSettings, manifest: Manifest, mapper: Mapper
) -> tuple[dict[str, Any] | None, list[str]]:
    """The drift since the last delivery and the mapped columns the delivery lacks; stops the
    stream (recording the drift) when a key column is gone or ``schema_drift: stop``."""
    drift = schema_drift(name, p, manifest, mapper)
    missing = mapper.check_columns(manifest.columns) if manifest.row_count else []
    key_columns = {c for k in mapper.entity.key for c in mapper.spec.fields[k].inputs}
    if missing and (p.schema_drift == "stop" or key_columns & set(missing)):
        if drift:
            drift["action"] = "stopped"
            record_drift(name, manifest, drift)
        raise PipelineError(drift_message(p, manifest, missing, drift))
    return drift, missing


def _validate(
    delivery: MappedDelivery, p: PipelineSettings, cfg: SimpulConfig, stage: Path
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Findings of mapping and of the entity's suite, on the rows that are not exact copies."""
    frame, duplicate = delivery.frame, delivery.duplicate
    unique = frame[~duplicate] if duplicate.any() else frame  # no copy when nothing repeats
    findings = pd.DataFrame.from_records(
        [i.as_failure() for i in delivery.issues], columns=FAILURE_COLUMNS
    )
    findings = findings[findings["row"].isin(unique["_row"])]
    summary: dict[str, Any] = {"checks": []}
    if len(unique):
        suite_failures, summary = run_suite(
            unique.drop(columns=["_row"]),
            p.suite,
            unique["_row"].reset_index(drop=True),
            docs_dir=stage,
            kabupaten=cfg.kabupaten,
        )
        findings = pd.concat([findings, suite_failures], ignore_index=True)
    return findings, summary


def _row_status(
    delivery: MappedDelivery, findings: pd.DataFrame, mapper: Mapper, manifest: Manifest
) -> tuple[pd.Series, float, int]:
    """Each row's fate (valid, quarantine, duplicate), the error rate the gate reads and how
    many rows only warned."""
    frame, duplicate = delivery.frame, delivery.duplicate
    error_rows = set(findings.loc[findings["severity"] == "error", "row"])
    warn_rows = set(findings.loc[findings["severity"] == "warn", "row"]) - error_rows
    status = pd.Series("valid", index=frame.index)
    status[frame["_row"].isin(error_rows)] = "quarantine"
    status[duplicate] = "duplicate"
    # the error-rate gate looks at every distinct row delivered, unchanged or not
    checked = int((status != "duplicate").sum())
    error_rate = int((status == "quarantine").sum()) / checked if checked else 0.0
    # rows identical to the record's current version (a boundary record the inclusive cursor
    # reads again, a full list sent again) change nothing: duplicates, not loaded rows
    if len(frame):
        wh = open_warehouse()
        try:
            same = ledger.current_duplicates(
                wh,
                mapper.entity.name,
                frame,
                (status == "valid").reset_index(drop=True),
                manifest.source,
            )
        finally:
            wh.dispose()
        status[same.to_numpy()] = "duplicate"
    return status, error_rate, len(warn_rows)


def _record_keys(frame: pd.DataFrame, key_cols: list[str]) -> pd.Series:
    """Each row's record key by row number; multi-column keys read as in ops.quarantine:
    parts joined by '|'."""
    indexed = frame.set_index("_row")
    if len(key_cols) == 1:
        return indexed[key_cols[0]]
    if not len(indexed):
        return pd.Series(index=indexed.index, dtype="string")
    return indexed[key_cols].astype("string").fillna("").agg("|".join, axis=1)


def _write_reports(
    load_id: str,
    stage: Path,
    result: dict[str, Any],
    findings: pd.DataFrame,
    mapper: Mapper,
    delivery: MappedDelivery,
) -> dict[str, str]:
    """The delivery's DQ report and GX Data Docs in the reports folder, published. Data Docs
    are built there later from the stored validation result (``simpul.validate.build_data_docs``)
    unless ``SIMPUL_DATA_DOCS=inline`` built them in the run."""
    keys = _record_keys(delivery.frame, list(mapper.entity.key))
    out_dir = paths().reports / load_id
    reports = write_dq_report(out_dir, result, findings, keys, origin=delivery.origin)
    if (stage / STORED_RESULT).exists():  # counts per check, no personal data
        shutil.copyfile(stage / STORED_RESULT, out_dir / STORED_RESULT)
    if (stage / "data_docs").exists():  # GX Data Docs outlive the staging folder
        shutil.copytree(stage / "data_docs", out_dir / "data_docs", dirs_exist_ok=True)
        reports["data_docs"] = str(out_dir / "data_docs")
    return handoffs.publish_reports(load_id, reports)
