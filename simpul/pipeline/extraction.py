"""Extract: pull what changed at the source and land it raw (Parquet + manifest).

The connector is looked up by name; the cursor (and a file drop's ledger) come from the
warehouse; a connector that can resume lands page by page (:mod:`simpul.pipeline.resumable`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from simpul import handoffs, ledger
from simpul.config import ConfigError, PipelineSettings, SimpulConfig, paths
from simpul.landing import Manifest, new_load_id
from simpul.pipeline.common import pipeline_lock, stage_config
from simpul.pipeline.feeds import deleted_stream, land_deletions, land_pull
from simpul.warehouse import open_warehouse, ops

log = logging.getLogger(__name__)

_Window = tuple[str | None, str | None]  # (since, until) of a pull; until bounds a backfill


def build_connector(cfg: SimpulConfig, source: str) -> Any:
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
    cfg = stage_config(cfg)
    with pipeline_lock(cfg, name):
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
    p = cfg.pipeline(name)
    connector = build_connector(cfg, p.source)
    spec = connector.stream(p.stream)
    deleted_since = since
    if not full_refresh:
        since, deleted_since = _stored_positions(p, connector, spec, since)
    if getattr(connector, "resumable", False):
        from simpul.pipeline.resumable import extract_resumable

        return extract_resumable(
            name, p, connector, spec, since=since, deleted_since=deleted_since, until=until
        )
    load_id = new_load_id(p.source, p.stream)
    started = time.monotonic()
    deletions = None
    if spec.deleted_field:
        deletions = land_deletions(
            connector, p, spec, load_id, since=deleted_since, until=until, root=paths().landing
        )
    manifest, files = _land_changes(connector, p, spec, load_id, (since, until))
    log.info(
        "landed %s: %d rows in %.1fs",
        manifest.load_id,
        manifest.row_count,
        time.monotonic() - started,
    )
    out = landed_summary(name, manifest, deletions)
    if files:
        out["files"] = {
            st: sum(1 for f in files if f["status"] == st)
            for st in ("new", "skipped", "rejected", "waiting")
        }
    return out


def _stored_positions(
    p: PipelineSettings, connector: Any, spec: Any, since: str | None
) -> tuple[str | None, str | None]:
    """Where an incremental pull starts: the stored cursors (unless ``since`` is given) of the
    stream and of its deletion feed; a file drop also learns the files it has seen."""
    deleted_since = since
    if since is not None and not hasattr(connector, "known"):
        return since, deleted_since
    wh = open_warehouse()
    try:
        if hasattr(connector, "known"):  # a file drop: the file ledger
            connector.known = ledger.known_files(wh, p.source, p.stream)
        if since is None:
            since = ops.get_cursor(wh, p.source, p.stream)
            if spec.deleted_field:
                deleted_since = ops.get_cursor(wh, p.source, deleted_stream(p.stream))
    finally:
        wh.dispose()
    return since, deleted_since


def _land_changes(
    connector: Any, p: PipelineSettings, spec: Any, load_id: str, window: _Window
) -> tuple[Manifest, list[dict[str, Any]]]:
    """Land the changed rows of one pull as delivery ``load_id``; the files it read (drops)."""
    since, until = window
    manifest, result = land_pull(
        lambda result: connector.read(p.stream, since=since, result=result),
        spec.cursor_field,
        root=paths().landing,
        source=p.source,
        stream=p.stream,
        load_id=load_id,
        since=since,
        until=until,
        bytes_transferred=connector.bytes_transferred,
        pull_runs=1,
    )
    if result.files:
        ledger.write_sidecar(Path(manifest.file).parent, result.files)
        for f in ledger.rejected(result.files):
            log.warning("file rejected: %s", f["reason_en"])
    handoffs.publish_delivery(manifest.load_id)
    return manifest, result.files


def landed_summary(name: str, manifest: Manifest, deletions: Manifest | None) -> dict[str, Any]:
    """What ``extract`` hands the next stage: ids, path and counts (never rows)."""
    out: dict[str, Any] = {
        "pipeline": name,
        "load_id": manifest.load_id,
        "rows": manifest.row_count,
        "file": manifest.file,
    }
    if deletions is not None:
        out["deleted"] = deletions.row_count
    return out
