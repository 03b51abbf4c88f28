"""The pipeline stages: extract -> transform (map + validate) -> load.

Each stage takes and returns small dicts of ids, paths and counts, so Airflow passes them through
XCom while the data itself stays in files (landing, staging) and the warehouse. ``run`` chains
the stages for the CLI. Every record received ends up loaded, quarantined with its reasons, or
counted as an exact duplicate, and ``load`` refuses to commit if the counts do not reconcile.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from connectors.base.files import ROW_PROBLEM, ROW_WARNING, SOURCE_FILE, SOURCE_ROW
from simpul import atrest, handoffs, ledger
from simpul.config import ConfigError, PipelineSettings, SimpulConfig, load_config, paths
from simpul.landing import MANIFEST, Manifest, find_manifest, land, new_load_id, stream_lock
from simpul.mapping import Mapper, MappingIssue, load_mapping
from simpul.reports import write_dq_report
from simpul.validate import FAILURE_COLUMNS, run_suite
from simpul.warehouse import open_warehouse, ops

log = logging.getLogger(__name__)

BATCH_ROWS = 50_000


class PipelineError(Exception):
    """A run stopped for a reason an operator can act on (message in English and Indonesian)."""


def _lock(cfg: SimpulConfig, name: str):
    """The run lock of a pipeline's (source, stream): one run at a time, across processes.

    A second ``simpul run`` (or an Airflow task of an overlapping run) fails at once with a
    one-line :class:`~simpul.landing.RunInProgressError` instead of interleaving its loads.
    """
    p = cfg.pipeline(name)
    return stream_lock(paths().landing, p.source, p.stream)


def _config(cfg: SimpulConfig | None) -> SimpulConfig:
    from simpul.securefs import owner_only_umask

    owner_only_umask()  # every stage: landed, staged, reported data owner-only whatever the umask
    return cfg or load_config()


def build_connector(cfg: SimpulConfig, source: str):
    """Instantiate the connector of ``source`` with settings and secrets resolved (the
    connector is looked up by name in :mod:`connectors.registry`)."""
    from connectors.registry import UnknownConnector
    from connectors.registry import build as build_registered

    settings = cfg.sources[source]
    try:
        return build_registered(
            settings.connector, settings, cfg.kecamatan[0] if len(cfg.kecamatan) == 1 else None
        )
    except UnknownConnector:
        raise ConfigError(f"source {source!r}: unknown connector {settings.connector!r}") from None
    except ConfigError as exc:
        raise ConfigError(f"source {source!r}: {exc}") from None


def extract(
    name: str,
    cfg: SimpulConfig | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    full_refresh: bool = False,
) -> dict[str, Any]:
    """Pull changes since the stored cursor (or ``since``, for a backfill; everything with
    ``full_refresh``) and land them raw (Parquet + manifest)."""
    cfg = _config(cfg)
    with _lock(cfg, name):
        try:
            return _extract(name, cfg, since=since, until=until, full_refresh=full_refresh)
        except Exception as exc:
            from simpul.orchestration.causes import source_error

            err = source_error(exc, cfg, cfg.pipeline(name).source)
            if err is None:
                raise
            log.error("%s", err)
            raise err from None


def _extract(
    name: str, cfg: SimpulConfig, *, since: str | None, until: str | None, full_refresh: bool
) -> dict[str, Any]:
    from connectors.base.contract import ReadResult

    p = cfg.pipeline(name)
    connector = build_connector(cfg, p.source)
    spec = connector.stream(p.stream)
    deleted_since = since
    if hasattr(connector, "known") and not full_refresh:  # a file drop: the file ledger
        wh = open_warehouse()
        try:
            connector.known = ledger.known_files(wh, p.source, p.stream)
        finally:
            wh.dispose()
    if not full_refresh and (since is None or spec.deleted_field):
        wh = open_warehouse()
        try:
            if since is None:
                since = ops.get_cursor(wh, p.source, p.stream)
                if spec.deleted_field:
                    deleted_since = ops.get_cursor(wh, p.source, deleted_stream(p.stream))
        finally:
            wh.dispose()
    if getattr(connector, "resumable", False):
        return _extract_resumable(
            name, p, connector, spec, since=since, deleted_since=deleted_since, until=until
        )
    load_id = new_load_id(p.source, p.stream)
    started = time.monotonic()
    deletions = None
    if spec.deleted_field:
        # landed first: a delivery whose deletion feed is missing never exists, and a crash
        # in between leaves only an unreferenced feed (its cursor has not moved)
        dres = ReadResult()
        dbatches = connector.read_deleted(p.stream, since=deleted_since, result=dres)
        if until is not None:
            dbatches = _before(dbatches, spec.deleted_field, until)
        deletions = land(
            dbatches,
            root=paths().landing,
            source=p.source,
            stream=deleted_stream(p.stream),
            load_id=deletions_load_id(load_id),
            cursor_from=deleted_since,
            cursor_to=None if until is not None else (lambda: dres.cursor_max),
        )
        handoffs.publish_delivery(deletions.load_id)
    result = ReadResult()
    batches = connector.read(p.stream, since=since, result=result)
    if until is not None:
        batches = _before(batches, spec.cursor_field, until)
    manifest = land(
        batches,
        root=paths().landing,
        source=p.source,
        stream=p.stream,
        load_id=load_id,
        cursor_from=since,
        # a bounded backfill never moves the cursor: later changes may not be fetched yet
        cursor_to=None if until is not None else (lambda: result.cursor_max),
        bytes_transferred=connector.bytes_transferred,
        pull_runs=1,
    )
    if result.files:
        ledger.write_sidecar(Path(manifest.file).parent, result.files)
        for f in ledger.rejected(result.files):
            log.warning("file rejected: %s", f["reason_en"])
    handoffs.publish_delivery(manifest.load_id)
    log.info(
        "landed %s: %d rows in %.1fs",
        manifest.load_id,
        manifest.row_count,
        time.monotonic() - started,
    )
    out = {
        "pipeline": name,
        "load_id": manifest.load_id,
        "rows": manifest.row_count,
        "file": manifest.file,
    }
    if deletions is not None:
        out["deleted"] = deletions.row_count
    if result.files:
        out["files"] = {
            st: sum(1 for f in result.files if f["status"] == st)
            for st in ("new", "skipped", "rejected", "waiting")
        }
    return out


def _extract_resumable(
    name: str,
    p: PipelineSettings,
    connector,
    spec,
    *,
    since: str | None,
    deleted_since: str | None,
    until: str | None,
) -> dict[str, Any]:
    """Land page by page into a partial delivery, continuing one a failed run left behind
    (see :mod:`simpul.landing_resume`); seal it only when the last page is in."""
    from connectors.base.contract import ReadResult
    from simpul.landing_resume import PartialDelivery

    root = paths().landing
    started = time.monotonic()
    request = {"since": since, "until": until, "deleted_since": deleted_since}
    handoffs.fetch_partials(p.source, p.stream)  # a pull another worker host broke off
    partial = PartialDelivery.open(root, p.source, p.stream, request)
    handoffs.settle_partials(p.source, p.stream, keep=partial.load_id)
    load_id = partial.load_id
    http = getattr(connector, "http", None)
    if http is not None:
        http.progress.resumable = True
    partial.start_run(connector.bytes_transferred())
    try:
        deletions = None
        if spec.deleted_field:
            del_id = deletions_load_id(load_id)
            if handoffs.fetch_delivery(del_id):
                deletions = find_manifest(root, del_id)  # landed by the run that broke off
            else:
                dres = ReadResult()
                dbatches = connector.read_deleted(p.stream, since=deleted_since, result=dres)
                if until is not None:
                    dbatches = _before(dbatches, spec.deleted_field, until)
                deletions = land(
                    dbatches,
                    root=root,
                    source=p.source,
                    stream=deleted_stream(p.stream),
                    load_id=del_id,
                    cursor_from=deleted_since,
                    cursor_to=None if until is not None else (lambda: dres.cursor_max),
                )
                handoffs.publish_delivery(del_id)
        result = ReadResult(partial.state.get("cursor_min"), partial.state.get("cursor_max"))
        resume = partial.resume
        if not (resume or {}).get("done"):
            for batch, state in connector.read_pages(
                p.stream, since=since, result=result, resume=resume
            ):
                if batch is not None and until is not None:
                    batch = next(_before([batch], spec.cursor_field, until))
                parts_before = len(partial.state["parts"])
                partial.append(
                    batch,
                    state,
                    (result.cursor_min, result.cursor_max),
                    connector.bytes_transferred(),
                )
                handoffs.publish_partial(partial, parts_before)
    finally:
        partial.note_bytes(connector.bytes_transferred())
        partial.save()
    manifest = partial.seal(
        cursor_from=since,
        # a bounded backfill never moves the cursor: later changes may not be fetched yet
        cursor_to=None if until is not None else partial.safe_cursor(),
    )
    handoffs.publish_delivery(manifest.load_id)
    handoffs.settle_partials(p.source, p.stream, keep=None)  # its parts are in the delivery
    log.info(
        "landed %s: %d rows, %d bytes over %d run(s), in %.1fs",
        manifest.load_id,
        manifest.row_count,
        manifest.bytes_transferred or 0,
        manifest.pull_runs or 1,
        time.monotonic() - started,
    )
    out = {
        "pipeline": name,
        "load_id": manifest.load_id,
        "rows": manifest.row_count,
        "file": manifest.file,
        "bytes_transferred": manifest.bytes_transferred,
        "pull_runs": manifest.pull_runs,
    }
    if deletions is not None:
        out["deleted"] = deletions.row_count
    return out


def deleted_stream(stream: str) -> str:
    """The stream name a source's deletion feed is landed and cursored under."""
    return f"{stream}_deleted"


def deletions_load_id(load_id: str) -> str:
    """Load id of the deletion feed landed with delivery ``load_id`` (same time and suffix)."""
    parts = load_id.split(".")
    parts[1] = deleted_stream(parts[1])
    return ".".join(parts)


def _deletions(load_id: str) -> Manifest | None:
    """The sealed deletion feed landed with ``load_id``, if its source sends one."""
    del_id = deletions_load_id(load_id)
    if not handoffs.fetch_delivery(del_id):
        return None
    return find_manifest(paths().landing, del_id)


def _before(batches, cursor_field: str | None, until: str):
    """Keep rows whose cursor is before ``until`` (a backfill's upper bound)."""
    import pyarrow.compute as pc

    if cursor_field is None:
        raise PipelineError("this stream has no cursor: a bounded backfill is not possible")
    for batch in batches:
        yield batch.filter(pc.less(batch.column(cursor_field), until))


def _staging(load_id: str) -> Path:
    return paths().staging / load_id


def transform(
    name: str, load_id: str, cfg: SimpulConfig | None = None, *, released_by: str | None = None
) -> dict[str, Any]:
    """Map a landed delivery to the canonical model and validate it; write staging files.

    ``released_by`` names the reviewer who released a held delivery: the error-rate gate is
    then recorded but not applied (failing rows are still quarantined).
    """
    cfg = _config(cfg)
    p = cfg.pipeline(name)
    handoffs.fetch_delivery(load_id)
    manifest = find_manifest(paths().landing, load_id)
    mapper = Mapper(load_mapping(p.mapping))
    drift = schema_drift(name, p, manifest, mapper)
    missing = mapper.check_columns(manifest.columns) if manifest.row_count else []
    key_columns = {c for k in mapper.entity.key for c in mapper.spec.fields[k].inputs}
    if missing and (p.schema_drift == "stop" or key_columns & set(missing)):
        if drift:
            drift["action"] = "stopped"
            _record_drift(name, manifest, drift)
        raise PipelineError(_drift_message(p, manifest, missing, drift))
    mapped_parts: list[pa.Table] = []
    issues = []
    raw_hash_parts: list[pd.Series] = []
    origin_parts: list[pd.Series] = []
    offset = 0
    pf = atrest.parquet_file(manifest.file)
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        frame = batch.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        for col in missing:  # schema_drift: warn -> a vanished mapped column reads as empty
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
        rows = pd.Series(range(offset + 1, offset + 1 + len(frame)), index=frame.index)
        table, batch_issues = mapper.apply(frame, rows)
        mapped_parts.append(table.append_column("_row", pa.array(rows, pa.int64())))
        issues.extend(batch_issues)
        issues.extend(row_notes(frame, rows))
        issues.extend(length_issues(table, rows))
        # an exact copy is the same content, wherever in the file it stands
        lineage = (SOURCE_FILE, SOURCE_ROW, ROW_PROBLEM, ROW_WARNING)
        raw = frame.drop(columns=[*missing, *(c for c in lineage if c in frame)])
        raw_hash_parts.append(pd.util.hash_pandas_object(raw.fillna("\x00"), index=False))
        if SOURCE_FILE in frame.columns:  # file drops: where a person finds the row
            origin_parts.append(frame[SOURCE_FILE] + ", baris/row " + frame[SOURCE_ROW])
        offset += len(frame)
    entity_schema = mapper.entity.schema.append(pa.field("_row", pa.int64()))
    mapped = pa.concat_tables(mapped_parts) if mapped_parts else entity_schema.empty_table()
    frame = mapped.to_pandas(types_mapper=_types_mapper)
    # exact copies of an earlier row in the same delivery (e.g. a page served twice)
    raw_hash = (
        pd.concat(raw_hash_parts, ignore_index=True)
        if raw_hash_parts
        else pd.Series([], dtype="uint64")
    )
    duplicate = raw_hash.duplicated(keep="first").to_numpy()
    unique = frame[~duplicate] if len(frame) else frame

    findings = pd.DataFrame.from_records([i.as_failure() for i in issues], columns=FAILURE_COLUMNS)
    findings = findings[findings["row"].isin(unique["_row"])]
    stage = _staging(load_id)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    summary: dict[str, Any] = {"checks": []}
    if len(unique):
        gx_failures, summary = run_suite(
            unique.drop(columns=["_row"]),
            p.suite,
            unique["_row"].reset_index(drop=True),
            docs_dir=stage,
            kabupaten=cfg.kabupaten,
        )
        findings = pd.concat([findings, gx_failures], ignore_index=True)
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
    frame["_status"] = status.to_numpy()
    counts = {
        "received": manifest.row_count,
        "valid": int((status == "valid").sum()),
        "quarantined": int((status == "quarantine").sum()),
        "duplicate": int((status == "duplicate").sum()),
        "warned": len(warn_rows),
    }
    if counts["valid"] + counts["quarantined"] + counts["duplicate"] != counts["received"]:
        raise PipelineError(f"{load_id}: row counts do not reconcile: {counts}")
    held = error_rate > p.max_error_rate and not released_by
    hold_message = (
        f"held: error rate {error_rate:.1%} above the gate {p.max_error_rate:.0%} / "
        f"ditahan: tingkat galat {error_rate:.1%} di atas ambang {p.max_error_rate:.0%}"
        if held
        else None
    )
    previous_rows = _previous_rows(p, manifest) if p.min_row_ratio else None
    news = counts["valid"] + counts["quarantined"]  # a delivery of nothing new is never held
    if (
        not held
        and not released_by
        and news
        and previous_rows
        and manifest.row_count < p.min_row_ratio * previous_rows
    ):
        held = True
        hold_message = (
            f"held: {manifest.row_count} rows against {previous_rows} in the last delivery "
            f"(below {p.min_row_ratio:.0%}) / ditahan: {manifest.row_count} baris dibanding "
            f"{previous_rows} pada kiriman terakhir (di bawah {p.min_row_ratio:.0%})"
        )
    atrest.write_table(pa.Table.from_pandas(frame, preserve_index=False), stage / "mapped.parquet")
    atrest.write_table(
        pa.Table.from_pandas(findings.astype({"row": "int64"}), preserve_index=False),
        stage / "findings.parquet",
    )
    result = {
        "pipeline": name,
        "load_id": load_id,
        "staging": str(stage),
        **counts,
        "error_rate": round(error_rate, 4),
        "held": held,
        "hold_message": hold_message,
        "released_by": released_by,
        "rules_failed": {
            c["rule"]: c["failed_rows"] for c in summary["checks"] if c["failed_rows"]
        },
        "schema_drift": drift,
        "held_rows": counts["valid"] + counts["quarantined"] if held else 0,
        "files": ledger.read_sidecar(manifest.file),
    }
    key_cols = list(mapper.entity.key)
    indexed = frame.set_index("_row")
    keys = indexed[key_cols[0]]
    if len(key_cols) > 1:  # multi-column keys read as in ops.quarantine: parts joined by '|'
        keys = (
            indexed[key_cols].astype("string").fillna("").agg("|".join, axis=1)
            if len(indexed)
            else pd.Series(index=indexed.index, dtype="string")
        )
    origin = None
    if origin_parts:
        origin = pd.concat(origin_parts, ignore_index=True)
        origin.index = frame["_row"].to_numpy()
    result["reports"] = write_dq_report(
        paths().reports / load_id, result, findings, keys, origin=origin
    )
    if (stage / "data_docs").exists():  # GX Data Docs outlive the staging folder
        shutil.copytree(
            stage / "data_docs", paths().reports / load_id / "data_docs", dirs_exist_ok=True
        )
        result["reports"]["data_docs"] = str(paths().reports / load_id / "data_docs")
    result["reports"] = handoffs.publish_reports(load_id, result["reports"])
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


def row_notes(frame: pd.DataFrame, rows: pd.Series) -> list[MappingIssue]:
    """Problems a file reader attached to rows (ragged row, broken quote: errors) and its
    warnings (a long number typed as a number cell), as findings naming file and line."""
    out: list[MappingIssue] = []
    for col, severity, rule in (
        (ROW_PROBLEM, "error", "row_malformed"),
        (ROW_WARNING, "warn", "number_cell"),
    ):
        if col not in frame.columns:
            continue
        notes = frame[col]
        for idx in notes.index[notes.notna()]:
            text = str(notes[idx])
            en, _, idn = text.partition(" / ")
            field = en.split(":", 1)[0] if rule == "number_cell" else "row"
            out.append(
                MappingIssue(
                    row=int(rows[idx]),
                    field=field,
                    source_column=col,
                    problem_en=en,
                    problem_id=idn or en,
                    severity=severity,
                    rule=rule,
                )
            )
    return out


def length_issues(table: pa.Table, rows: pd.Series) -> list[MappingIssue]:
    """Text longer than the column's maximum (``simpul.model.max_length``): an error, so a
    32,000-character address never loads unnoticed."""
    import pyarrow.compute as pc

    from simpul.model import max_length

    out: list[MappingIssue] = []
    numbers = rows.to_numpy()
    for field in table.schema:
        if not pa.types.is_string(field.type):
            continue
        limit = max_length(field.name)
        lengths = pc.fill_null(pc.utf8_length(table.column(field.name)), 0)
        too_long = pc.greater(lengths, limit).to_numpy(zero_copy_only=False)
        for i in too_long.nonzero()[0]:
            out.append(
                MappingIssue(
                    row=int(numbers[i]),
                    field=field.name,
                    source_column=field.name,
                    problem_en=f"longer than {limit} characters",
                    problem_id=f"lebih dari {limit} karakter",
                    rule="max_length",
                )
            )
    return out


def _previous_rows(p: PipelineSettings, manifest: Manifest) -> int | None:
    """Rows of the last loaded delivery of the same stream (the row-count gate's baseline)."""
    wh = open_warehouse()
    try:
        return wh.scalar(
            "select rows_received from ops.loads where source = :s and stream = :t "
            "and status = 'loaded' and load_id <> :id and rows_received > 0 "
            "order by loaded_at desc, load_id desc limit 1",
            {"s": manifest.source, "t": manifest.stream, "id": manifest.load_id},
        )
    finally:
        wh.dispose()


def schema_drift(
    name: str, p: PipelineSettings, manifest: Manifest, mapper: Mapper
) -> dict[str, Any] | None:
    """Columns added to or removed from ``manifest`` since the last loaded delivery of the
    same (source, stream), or None when nothing changed (or there is nothing to compare).

    ``mapped`` lists the removed columns the mapping uses (breaking); ``action`` says what
    the pipeline does: ``recorded`` (only additions or unmapped removals), ``warned``
    (``schema_drift: warn``), ``stopped``.
    """
    if not manifest.row_count:
        return None
    wh = open_warehouse()
    try:
        base = ops.last_loaded_manifest(wh, manifest.source, manifest.stream)
    finally:
        wh.dispose()
    if base is None or base["load_id"] == manifest.load_id or not base["landed_file"]:
        return None
    path = Path(base["landed_file"]).parent / MANIFEST
    if not path.exists() and handoffs.fetch_delivery(base["load_id"]):  # landed on another host
        path = paths().landing / handoffs.delivery_rel(base["load_id"]) / MANIFEST
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("schema drift not checked: manifest of %s unreadable", base["load_id"])
        return None
    added = [c for c in manifest.columns if c not in before["columns"]]
    removed = [c for c in before["columns"] if c not in manifest.columns]
    if not added and not removed:
        return None
    mapped = sorted(set(removed) & mapper.spec.source_columns)
    drift = {
        "added": added,
        "removed": removed,
        "mapped": mapped,
        "action": "warned" if mapped else "recorded",
        "previous_load_id": base["load_id"],
        "schema_hash_before": before.get("schema_hash"),
    }
    log.warning(
        "%s: schema drift in %s/%s since %s: added %s, removed %s",
        name,
        manifest.source,
        manifest.stream,
        base["load_id"],
        added,
        removed,
    )
    return drift


def _record_drift(name: str, manifest: Manifest, drift: dict[str, Any]) -> None:
    """Best effort: a stopped stream's drift in ops.schema_changes (never hides the stop)."""
    try:
        wh = open_warehouse()
        try:
            ops.record_schema_changes(wh, name, manifest, drift)
        finally:
            wh.dispose()
    except Exception as exc:  # noqa: BLE001 - the stop message matters more than the record
        log.warning("could not record the schema change: %s", type(exc).__name__)


def _drift_message(
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


def _types_mapper(t: pa.DataType):
    if pa.types.is_string(t):
        return pd.StringDtype()
    return None


def load(name: str, load_id: str, cfg: SimpulConfig | None = None) -> dict[str, Any]:
    """Merge valid rows into core, quarantine the rest, record the load: one transaction."""
    cfg = _config(cfg)
    p = cfg.pipeline(name)
    handoffs.fetch_delivery(load_id)
    manifest = find_manifest(paths().landing, load_id)
    handoffs.fetch_stage(load_id)
    stage = _staging(load_id)
    summary = json.loads((stage / "summary.json").read_text())
    with _lock(cfg, name):
        wh = open_warehouse()
        try:
            return ops.commit_delivery(
                wh,
                pipeline=name,
                settings=p,
                manifest=manifest,
                mapped=atrest.read_table(stage / "mapped.parquet"),
                findings=atrest.read_table(stage / "findings.parquet"),
                summary=summary,
                deletions=_deletions(load_id),
            )
        finally:
            wh.dispose()


def run(name: str, cfg: SimpulConfig | None = None) -> dict[str, Any]:
    """All stages in one process (``simpul run``)."""
    cfg = _config(cfg)
    from simpul.reference import load_reference

    wh = open_warehouse()
    try:
        load_reference(wh)
    finally:
        wh.dispose()
    started = datetime.now(UTC)
    with _lock(cfg, name):
        ex = extract(name, cfg)
        tr = transform(name, ex["load_id"], cfg)
        ld = load(name, ex["load_id"], cfg)
    ld["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    ld["rules_failed"] = tr["rules_failed"]
    ld["files"] = ex.get("files")
    ld["outcome"] = outcome(ld, tr.get("files"))
    return ld


# exit codes of ``simpul run`` (docs/operations.md): cron and Airflow see a held or partial
# delivery as not-quite-success
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_HELD = 3
EXIT_PARTIAL = 4


def outcome(load_record: dict[str, Any], files: list[dict[str, Any]] | None) -> str:
    """'held' (the quality gate stopped the delivery), 'partial' (some files rejected, the
    rest loaded) or the load's own status."""
    if load_record.get("status") == "held":
        return "held"
    if ledger.rejected(files):
        return "partial"
    return str(load_record.get("status"))


def release(
    name: str, load_id: str, reviewer: str, cfg: SimpulConfig | None = None
) -> dict[str, Any]:
    """Load a delivery the quality gate held, after ``reviewer`` has looked at its report.

    Failing rows are still quarantined; only the whole-delivery gate is lifted. The operator
    command (``simpul release``) writes the audit entry.
    """
    if not reviewer.strip():
        raise PipelineError("a release needs the reviewer's name / pelepasan butuh nama peninjau")
    cfg = _config(cfg)
    with _lock(cfg, name):
        transform(name, load_id, cfg, released_by=reviewer)
        return load(name, load_id, cfg)


def _cursor_text(value: datetime | str) -> str:
    """Cursor values are the source's ISO UTC text ("2026-10-01T08:00:00Z")."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise PipelineError("backfill times need a time zone / waktu backfill butuh zona waktu")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backfill(
    name: str,
    *,
    since: datetime | str,
    until: datetime | str | None = None,
    cfg: SimpulConfig | None = None,
) -> dict[str, Any]:
    """Fetch again what changed in ``[since, until)`` and load it.

    Re-fetching is harmless (the merge is idempotent) and a backfill never moves the stored
    cursor. The operator command (``simpul backfill``) writes the audit entry.
    """
    cfg = _config(cfg)
    with _lock(cfg, name):
        ex = extract(
            name,
            cfg,
            since=_cursor_text(since),
            until=_cursor_text(until) if until is not None else None,
        )
        transform(name, ex["load_id"], cfg)
        return load(name, ex["load_id"], cfg)


def replay(name: str, load_id: str, cfg: SimpulConfig | None = None) -> dict[str, Any]:
    """Re-map, re-validate and re-load a landed delivery without calling the agency again.

    A delivery already loaded stays as it is (the load is idempotent); use it for deliveries
    that landed but never loaded (a crash between stages) or after a mapping/rule fix.
    """
    from simpul.orchestration import audit

    cfg = _config(cfg)
    with _lock(cfg, name):
        transform(name, load_id, cfg)
        result = load(name, load_id, cfg)
    audit.record("replay", outcome=str(result["status"]), pipeline=name, load_id=load_id)
    return result


__all__ = [
    "PipelineError",
    "PipelineSettings",
    "backfill",
    "extract",
    "load",
    "release",
    "replay",
    "run",
    "transform",
]
