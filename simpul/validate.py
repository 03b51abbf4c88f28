"""Row-level validation with Great Expectations, before anything is loaded.

GX validates the whole mapped batch; we turn its ``unexpected_index_list`` into per-row failures
with the check's severity and bilingual reason. GX takes ~6 s to import, so it is imported here,
inside the function, never at module (DAG-parse) time.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Severity = Literal["error", "warn"]
FAILURE_COLUMNS = ["row", "rule", "severity", "field", "reason_en", "reason_id"]


@dataclass(frozen=True)
class Check:
    rule: str
    severity: Severity
    field: str
    expectation: Any  # a great_expectations Expectation
    reason_en: str
    reason_id: str


def load_checks(suite: str, **kwargs: Any) -> list[Check]:
    """The checks of suite ``expectations/<suite>.py``."""
    return importlib.import_module(f"expectations.{suite}").checks(**kwargs)


def _quiet_gx() -> None:
    """GX logs every ephemeral docs folder at INFO; operators only need its warnings."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run_suite(
    frame: pd.DataFrame, suite: str, rows: pd.Series, docs_dir: Path | None = None, **kwargs: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Validate ``frame``; return (failures, summary).

    ``rows`` maps the frame's positional index to the delivery's row numbers. ``failures`` has
    one line per (row, rule). ``summary`` is the GX result in JSON form, written to
    ``docs_dir/validation.json`` when given (GX Data Docs are built from the same result).
    """
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()  # again: GX creates its loggers on import

    checks = load_checks(suite, **kwargs)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("simpul").add_dataframe_asset(suite)
    batch_def = asset.add_batch_definition_whole_dataframe("delivery")
    gx_suite = gx.ExpectationSuite(name=suite)
    for check in checks:
        exp = check.expectation
        exp.meta = {"rule": check.rule, "severity": check.severity}
        gx_suite.add_expectation(exp)
    data = frame.reset_index(drop=True)
    batch = batch_def.get_batch(batch_parameters={"dataframe": data})
    result = batch.validate(
        gx_suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0}
    )
    by_rule = {c.rule: c for c in checks}
    records: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for r in result.results:
        rule = r.expectation_config.meta["rule"]
        check = by_rule[rule]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"check {rule} could not run: {r.exception_info.get('exception_message')}"
            )
        idx = r.result.get("unexpected_index_list") or []
        counts[rule] = len(idx)
        for i in idx:
            records.append(
                {
                    "row": int(rows.iloc[int(i)]),
                    "rule": rule,
                    "severity": check.severity,
                    "field": check.field,
                    "reason_en": check.reason_en,
                    "reason_id": check.reason_id,
                }
            )
    failures = pd.DataFrame.from_records(records, columns=FAILURE_COLUMNS)
    summary = {
        "suite": suite,
        "success": bool(result.success),
        "evaluated_rows": len(frame),
        "checks": [
            {
                "rule": c.rule,
                "severity": c.severity,
                "field": c.field,
                "failed_rows": counts.get(c.rule, 0),
            }
            for c in checks
        ],
    }
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        # result_format COMPLETE holds row values (NIKs): keep only aggregated stats on disk
        (docs_dir / "validation.json").write_text(json.dumps(summary, indent=2))
    return failures, summary
