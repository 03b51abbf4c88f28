"""The stages chained: ``run`` for the CLI, and the operator actions on one delivery
(release a held one, backfill a time range, replay a landed one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simpul import ledger
from simpul.config import SimpulConfig
from simpul.pipeline.common import PipelineError, pipeline_lock, stage_config
from simpul.pipeline.extraction import extract
from simpul.pipeline.loading import load
from simpul.pipeline.transformation import transform
from simpul.warehouse import open_warehouse

# exit codes of ``simpul run`` (docs/operations.md): cron and Airflow see a held or partial
# delivery as not-quite-success
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_HELD = 3
EXIT_PARTIAL = 4


def run(name: str, cfg: SimpulConfig | None = None) -> dict[str, Any]:
    """All stages in one process (``simpul run``)."""
    cfg = stage_config(cfg)
    from simpul.reference import load_reference

    wh = open_warehouse()
    try:
        load_reference(wh)
    finally:
        wh.dispose()
    started = datetime.now(UTC)
    with pipeline_lock(cfg, name):
        ex = extract(name, cfg)
        tr = transform(name, ex["load_id"], cfg)
        ld = load(name, ex["load_id"], cfg)
    ld["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    ld["rules_failed"] = tr["rules_failed"]
    ld["files"] = ex.get("files")
    ld["outcome"] = outcome(ld, tr.get("files"))
    return ld


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
    cfg = stage_config(cfg)
    with pipeline_lock(cfg, name):
        transform(name, load_id, cfg, released_by=reviewer)
        return load(name, load_id, cfg)


def cursor_text(value: datetime | str) -> str:
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
    cfg = stage_config(cfg)
    with pipeline_lock(cfg, name):
        ex = extract(
            name,
            cfg,
            since=cursor_text(since),
            until=cursor_text(until) if until is not None else None,
        )
        transform(name, ex["load_id"], cfg)
        return load(name, ex["load_id"], cfg)


def replay(name: str, load_id: str, cfg: SimpulConfig | None = None) -> dict[str, Any]:
    """Re-map, re-validate and re-load a landed delivery without calling the agency again.

    A delivery already loaded stays as it is (the load is idempotent); use it for deliveries
    that landed but never loaded (a crash between stages) or after a mapping/rule fix.
    """
    from simpul.orchestration import audit

    cfg = stage_config(cfg)
    with pipeline_lock(cfg, name):
        transform(name, load_id, cfg)
        result = load(name, load_id, cfg)
    audit.record("replay", outcome=str(result["status"]), pipeline=name, load_id=load_id)
    return result
