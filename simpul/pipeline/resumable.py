"""A pull that can resume: land page by page into a partial delivery, continuing one a failed
run left behind (see :mod:`simpul.landing_resume`), and seal it only when the last page is in."""

from __future__ import annotations

import logging
import time
from typing import Any

from simpul import handoffs
from simpul.config import PipelineSettings, paths
from simpul.landing import Manifest, find_manifest
from simpul.pipeline.extraction import landed_summary
from simpul.pipeline.feeds import deletions_load_id, land_deletions, rows_before

log = logging.getLogger(__name__)


def extract_resumable(
    name: str,
    p: PipelineSettings,
    connector: Any,
    spec: Any,
    *,
    since: str | None,
    deleted_since: str | None,
    until: str | None,
) -> dict[str, Any]:
    """Land the pull's pages into a partial delivery; seal and publish it when complete."""
    from simpul.landing_resume import PartialDelivery

    root = paths().landing
    started = time.monotonic()
    request = {"since": since, "until": until, "deleted_since": deleted_since}
    handoffs.fetch_partials(p.source, p.stream)  # a pull another worker host broke off
    partial = PartialDelivery.open(root, p.source, p.stream, request)
    handoffs.settle_partials(p.source, p.stream, keep=partial.load_id)
    http = getattr(connector, "http", None)
    if http is not None:
        http.progress.resumable = True
    partial.start_run(connector.bytes_transferred())
    try:
        deletions = None
        if spec.deleted_field:
            deletions = _deletions_of(connector, p, spec, partial.load_id, deleted_since, until)
        _append_pages(connector, p, spec, partial, since=since, until=until)
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
    out = landed_summary(name, manifest, deletions)
    out["bytes_transferred"] = manifest.bytes_transferred
    out["pull_runs"] = manifest.pull_runs
    return out


def _deletions_of(
    connector: Any,
    p: PipelineSettings,
    spec: Any,
    load_id: str,
    deleted_since: str | None,
    until: str | None,
) -> Manifest:
    """The deletion feed of the partial delivery: the one a run that broke off landed, or a
    new one."""
    root = paths().landing
    del_id = deletions_load_id(load_id)
    if handoffs.fetch_delivery(del_id):
        return find_manifest(root, del_id)  # landed by the run that broke off
    return land_deletions(connector, p, spec, load_id, since=deleted_since, until=until, root=root)


def _append_pages(
    connector: Any,
    p: PipelineSettings,
    spec: Any,
    partial: Any,
    *,
    since: str | None,
    until: str | None,
) -> None:
    """Read the pages still missing and append each (with the state to resume after it)."""
    from connectors.base.contract import ReadResult

    result = ReadResult(partial.state.get("cursor_min"), partial.state.get("cursor_max"))
    resume = partial.resume
    if (resume or {}).get("done"):
        return
    for batch, state in connector.read_pages(p.stream, since=since, result=result, resume=resume):
        if batch is not None and until is not None:
            batch = next(rows_before([batch], spec.cursor_field, until))
        parts_before = len(partial.state["parts"])
        partial.append(
            batch,
            state,
            (result.cursor_min, result.cursor_max),
            connector.bytes_transferred(),
        )
        handoffs.publish_partial(partial, parts_before)
