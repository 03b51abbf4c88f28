"""Row-level validation with Great Expectations, before anything is loaded.

GX validates the whole mapped batch; we turn its ``unexpected_index_list`` into per-row failures
with the check's severity and bilingual reason. GX takes ~6 s to import, so it is imported here,
inside the function, never at module (DAG-parse) time.

GX results carry failing *positions* only, never values (``exclude_unexpected_values``): the
values are NIKs and names, and a 650,000-row delivery must not drag copies of them through
memory, JSON or Data Docs.
"""

from __future__ import annotations

import copy
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
# COMPLETE is the only format with every failing index; values and the index "query" (a string
# listing every index again) are left out, so a result is a list of ints per check.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}
DOCS_SITE = "simpul"


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
    one line per (row, rule). ``summary`` holds counts per check; with ``docs_dir`` it is written
    to ``docs_dir/validation.json`` and GX Data Docs for this run go to ``docs_dir/data_docs/``
    (built from the result without failing indices or values: no personal data in the HTML).
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
    result = batch.validate(gx_suite, result_format=RESULT_FORMAT)
    by_rule = {c.rule: c for c in checks}
    parts: list[pd.DataFrame] = []
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
        if idx:
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows.iloc[pd.Index(idx, dtype="int64")].to_numpy(dtype="int64"),
                        "rule": rule,
                        "severity": check.severity,
                        "field": check.field,
                        "reason_en": check.reason_en,
                        "reason_id": check.reason_id,
                    }
                )
            )
    failures = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "row" else "object") for c in FAILURE_COLUMNS}
        )
    )
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
        (docs_dir / "validation.json").write_text(json.dumps(summary, indent=2))
        _build_data_docs(context, gx_suite, result, docs_dir / "data_docs", docs_dir.name)
    return failures, summary


def _build_data_docs(context: Any, gx_suite: Any, result: Any, site_dir: Path, run: str) -> None:
    """Render GX Data Docs for this run into ``site_dir`` (an ephemeral filesystem site).

    Failing positions are dropped from the copy that is rendered: the HTML shows counts and
    percentages per check, nothing that leads back to a person.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    slim = copy.deepcopy(result)
    for r in slim.results:
        for key in [k for k in r.result if "unexpected_index" in k or "unexpected_list" in k]:
            del r.result[key]
    context.add_data_docs_site(
        DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "show_how_to_buttons": False,
        },
    )
    context.suites.add(gx_suite)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=gx_suite.name),
        run_id=RunIdentifier(run_name=run),
        batch_identifier="delivery",
    )
    context.validation_results_store.set(key, slim)
    context.build_data_docs(site_names=[DOCS_SITE])
    # GX copies its tutorial GIFs/PNGs (3.4 MB) into every site; the pages use only the favicon
    for image in (site_dir / "static" / "images").glob("*"):
        if image.suffix in {".gif", ".png"}:
            image.unlink()
