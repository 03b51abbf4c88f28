"""The pipeline stages: extract -> transform (map + validate) -> load.

Each stage takes and returns small dicts of ids, paths and counts, so Airflow passes them through
XCom while the data itself stays in files (landing, staging) and the warehouse. ``run`` chains
the stages for the CLI. Every record received ends up loaded, quarantined with its reasons, or
counted as an exact duplicate, and ``load`` refuses to commit if the counts do not reconcile.

One module per stage (:mod:`.extraction`, :mod:`.resumable`, :mod:`.transformation` with
:mod:`.mapped`, :mod:`.drift` and :mod:`.gates`, :mod:`.loading`) and the operator actions
(:mod:`.actions`); this package re-exports the public names callers use.
"""

from __future__ import annotations

from simpul.config import PipelineSettings
from simpul.pipeline.actions import (
    EXIT_ERROR,
    EXIT_HELD,
    EXIT_OK,
    EXIT_PARTIAL,
    backfill,
    outcome,
    release,
    replay,
    run,
)
from simpul.pipeline.common import PipelineError
from simpul.pipeline.drift import schema_drift
from simpul.pipeline.extraction import build_connector, extract
from simpul.pipeline.feeds import deleted_stream, deletions_load_id
from simpul.pipeline.loading import load
from simpul.pipeline.mapped import length_issues, row_notes
from simpul.pipeline.transformation import transform

__all__ = [
    "EXIT_ERROR",
    "EXIT_HELD",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "PipelineError",
    "PipelineSettings",
    "backfill",
    "build_connector",
    "deleted_stream",
    "deletions_load_id",
    "extract",
    "length_issues",
    "load",
    "outcome",
    "release",
    "replay",
    "row_notes",
    "run",
    "schema_drift",
    "transform",
]
