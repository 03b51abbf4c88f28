"""Great Expectations itself, for what needs it: a check's GX expectation object, validation by
GX's ``batch.validate`` (``run_suite(engine="gx")`` and kinds the vectorised pass does not know)
and Data Docs rendered from a stored validation result.

GX takes ~5 s to import, so only the functions here import it, when called: a transform with
Data Docs deferred (the default, ``SIMPUL_DATA_DOCS``) never does.

GX results carry failing *positions* only, never values (``exclude_unexpected_values``): the
values are NIKs and names, and a 650,000-row delivery must not drag copies of them through
memory, JSON or Data Docs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simpul.validate import STORED_RESULT, Check

# COMPLETE is the only format with every failing index; values and the index "query" (a string
# listing every index again) are left out, so a result is a list of ints per check.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}
DOCS_SITE = "simpul"


def quiet_gx() -> None:
    """GX logs every ephemeral docs folder at INFO; operators only need its warnings."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


def gx_expectation(kind: str, kwargs: Mapping[str, Any], meta: dict[str, Any]) -> Any:
    """The GX Expectation of type ``kind`` (a built-in or one of ``expectations.custom``)."""
    quiet_gx()
    import great_expectations.expectations  # noqa: F401 - registers the built-in kinds
    from great_expectations.expectations.registry import get_expectation_impl

    import expectations.custom  # noqa: F401 - registers the hub's own kinds

    quiet_gx()  # again: GX creates its loggers on import
    return get_expectation_impl(kind)(**kwargs, meta=meta)


def _context(suite: str, expectations: Iterable[Any]) -> tuple[Any, Any]:
    """An ephemeral GX context and the suite of ``expectations`` (what Data Docs render)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_gx()  # again: GX creates its loggers on import
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_suite = gx.ExpectationSuite(name=suite)
    for expectation in expectations:
        gx_suite.add_expectation(expectation)
    return context, gx_suite


def validate_with_gx(
    suite: str, checks: list[Check], data: pd.DataFrame
) -> dict[str, tuple[np.ndarray, bool, int, int]]:
    """``checks`` validated by GX itself (pandas engine, the whole frame as one batch): per rule
    the failing positions, GX's success, the domain and the missing row counts."""
    context, gx_suite = _context(suite, [c.expectation for c in checks])
    asset = context.data_sources.add_pandas("simpul").add_dataframe_asset(suite)
    batch_def = asset.add_batch_definition_whole_dataframe("delivery")
    batch = batch_def.get_batch(batch_parameters={"dataframe": data})
    result = batch.validate(gx_suite, result_format=RESULT_FORMAT)
    out = {}
    for r in result.results:
        rule = r.expectation_config.meta["rule"]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"check {rule} could not run: {r.exception_info.get('exception_message')}"
            )
        idx = r.result.get("unexpected_index_list") or []
        missing = int(r.result.get("missing_count", 0) or 0)
        domain = int(r.result.get("element_count", len(data)) or 0) - missing
        out[rule] = (np.asarray(idx, dtype="int64"), bool(r.success), domain, missing)
    return out


def build_data_docs(docs_dir: Path) -> Path:
    """Render GX Data Docs into ``docs_dir/data_docs`` from the validation result ``run_suite``
    stored in ``docs_dir`` (counts per check, no failing positions, no values: no personal data
    in the HTML); returns the site's index page."""
    stored = json.loads((docs_dir / STORED_RESULT).read_text(encoding="utf-8"))
    expectations = [
        gx_expectation(c["type"], c["kwargs"], {"rule": c["rule"], "severity": c["severity"]})
        for c in stored["checks"]
    ]
    context, gx_suite = _context(stored["suite"], expectations)
    result = _docs_result(stored, expectations)
    site_dir = docs_dir / "data_docs"
    _render(context, gx_suite, result, site_dir, stored["run"])
    return site_dir / "index.html"


def _docs_result(stored: dict[str, Any], expectations: list[Any]) -> Any:
    """The validation result Data Docs render, from the counts (GX's result fields for map
    expectations; no failing positions, no values)."""
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    n = stored["evaluated_rows"]
    results = []
    for check, expectation in zip(stored["checks"], expectations, strict=True):
        bad, domain, missing = check["unexpected_count"], check["domain"], check["missing"]
        results.append(
            ExpectationValidationResult(
                success=check["success"],
                expectation_config=expectation.configuration,
                result={
                    "element_count": n,
                    "unexpected_count": bad,
                    "unexpected_percent": 100.0 * bad / domain if domain else 0.0,
                    "partial_unexpected_list": [],
                    "missing_count": missing,
                    "missing_percent": 100.0 * missing / n if n else 0.0,
                    "unexpected_percent_total": 100.0 * bad / n if n else 0.0,
                    "unexpected_percent_nonmissing": 100.0 * bad / domain if domain else 0.0,
                },
            )
        )
    ok = sum(bool(r.success) for r in results)
    return ExpectationSuiteValidationResult(
        success=ok == len(results),
        results=results,
        suite_name=stored["suite"],
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": ok,
            "unsuccessful_expectations": len(results) - ok,
            "success_percent": 100.0 * ok / len(results) if results else None,
        },
    )


def _render(context: Any, gx_suite: Any, result: Any, site_dir: Path, run: str) -> None:
    """Render GX Data Docs for this run into ``site_dir`` (an ephemeral filesystem site)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

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
    context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[DOCS_SITE])
    # GX copies its tutorial GIFs/PNGs (3.4 MB) into every site; the pages use only the favicon
    for image in (site_dir / "static" / "images").glob("*"):
        if image.suffix in {".gif", ".png"}:
            image.unlink()
