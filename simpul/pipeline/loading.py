"""Load: merge a staged delivery's valid rows into core, quarantine the rest and record the
load, in one transaction (:func:`simpul.warehouse.ops.commit_delivery`)."""

from __future__ import annotations

import json
from typing import Any

from simpul import atrest, handoffs
from simpul.config import SimpulConfig, paths
from simpul.landing import find_manifest
from simpul.pipeline.common import pipeline_lock, stage_config, staging_dir
from simpul.pipeline.feeds import landed_deletions
from simpul.warehouse import open_warehouse, ops


def load(
    name: str, load_id: str, cfg: SimpulConfig | None = None, *, partition: str | None = None
) -> dict[str, Any]:
    """Merge valid rows into core, quarantine the rest, record the load: one transaction.
    ``partition``: the province partition it belongs to (locks only that partition)."""
    cfg = stage_config(cfg)
    p = cfg.pipeline(name)
    handoffs.fetch_delivery(load_id)
    manifest = find_manifest(paths().landing, load_id)
    handoffs.fetch_stage(load_id)
    stage = staging_dir(load_id)
    summary = json.loads((stage / "summary.json").read_text())
    with pipeline_lock(cfg, name, partition):
        wh = open_warehouse()
        try:
            return ops.commit_delivery(
                wh,
                pipeline=name,
                settings=p,
                manifest=manifest,
                mapped=stage / "mapped.parquet",  # read a merge chunk at a time
                findings=atrest.read_table(stage / "findings.parquet"),
                summary=summary,
                deletions=landed_deletions(load_id),
            )
        finally:
            wh.dispose()
