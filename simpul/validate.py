"""Row-level validation with Great Expectations, before anything is loaded.

GX validates the whole mapped batch; we turn its ``unexpected_index_list`` into per-row failures
with the check's severity and bilingual reason. GX takes ~5 s to import, so nothing imports it at
module (DAG-parse) time: ``import simpul.pipeline`` never pays it. A transform does, once: the
suites are GX expectations, the vectorised pass calls their GX condition functions and every
delivery gets GX Data Docs.

GX results carry failing *positions* only, never values (``exclude_unexpected_values``): the
values are NIKs and names, and a 650,000-row delivery must not drag copies of them through
memory, JSON or Data Docs.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
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
    frame: pd.DataFrame,
    suite: str,
    rows: pd.Series,
    docs_dir: Path | None = None,
    *,
    engine: Literal["vectorised", "gx"] = "vectorised",
    **kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Validate ``frame``; return (failures, summary).

    ``rows`` maps the frame's positional index to the delivery's row numbers. ``failures`` has
    one line per (row, rule). ``summary`` holds counts per check; with ``docs_dir`` it is written
    to ``docs_dir/validation.json`` and GX Data Docs for this run go to ``docs_dir/data_docs/``
    (built from the result without failing indices or values: no personal data in the HTML).

    ``engine="vectorised"`` (the default) evaluates every check's own GX condition function in
    one pass over the frame (see :func:`_evaluate`), without GX's validation graph, which
    hashes the whole frame for a batch id and copies it per check; checks it cannot evaluate
    (a ``row_condition``, an unknown domain) go through GX. ``engine="gx"`` runs the whole
    suite through ``batch.validate``: the reference the findings-equality test compares with.
    """
    _quiet_gx()
    checks = load_checks(suite, **kwargs)  # GX expectations: imports GX (~5 s, once per process)
    _quiet_gx()  # again: GX creates its loggers on import
    for check in checks:
        check.expectation.meta = {"rule": check.rule, "severity": check.severity}
    data = frame.reset_index(drop=True)
    outcome = _Outcome()
    rest = _evaluate_all(checks, data, outcome) if engine == "vectorised" else checks
    gx_context = _validate_rest(suite, rest, data, outcome) if rest else None
    failures, counts = _failures(checks, outcome.unexpected, rows)
    summary = {
        "suite": suite,
        "success": all(outcome.success.get(c.rule, True) for c in checks),
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
        context, gx_suite = gx_context or _context(suite, checks)
        docs_result = _docs_result(suite, checks, counts, outcome, len(data))
        _build_data_docs(context, gx_suite, docs_result, docs_dir / "data_docs", docs_dir.name)
    return failures, summary


@dataclass
class _Outcome:
    """Per rule: the failing positions, GX's success and the domain/missing row counts."""

    unexpected: dict[str, np.ndarray] = field(default_factory=dict)
    success: dict[str, bool] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


def _evaluate_all(checks: list[Check], data: pd.DataFrame, outcome: _Outcome) -> list[Check]:
    """Evaluate what the vectorised pass can into ``outcome``; the checks left for GX."""
    rest = []
    for check in checks:
        try:
            evaluated = _evaluate(check.expectation, data)
        except Exception:  # noqa: BLE001 - GX runs it and reports why it cannot
            evaluated = None
        if evaluated is None:
            rest.append(check)
            continue
        positions, domain, missing = evaluated
        outcome.unexpected[check.rule] = positions
        outcome.stats[check.rule] = {"domain": domain, "missing": missing}
        outcome.success[check.rule] = _success(check.expectation, len(positions), domain)
    return rest


def _validate_rest(
    suite: str, checks: list[Check], data: pd.DataFrame, outcome: _Outcome
) -> tuple[Any, Any]:
    """Run ``checks`` through GX itself into ``outcome``; the GX context and suite it built."""
    context, gx_suite, result = _validate_with_gx(suite, checks, data)
    for r in result.results:
        rule = r.expectation_config.meta["rule"]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"check {rule} could not run: {r.exception_info.get('exception_message')}"
            )
        idx = r.result.get("unexpected_index_list") or []
        missing = int(r.result.get("missing_count", 0) or 0)
        outcome.unexpected[rule] = np.asarray(idx, dtype="int64")
        outcome.success[rule] = bool(r.success)
        outcome.stats[rule] = {
            "domain": int(r.result.get("element_count", len(data)) or 0) - missing,
            "missing": missing,
        }
    return context, gx_suite


def _failures(
    checks: list[Check], unexpected: dict[str, np.ndarray], rows: pd.Series
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One failure line per (row, rule), with the delivery's row numbers; failures per rule."""
    parts: list[pd.DataFrame] = []
    counts: dict[str, int] = {}
    for check in checks:
        idx = unexpected.get(check.rule, np.empty(0, dtype="int64"))
        counts[check.rule] = len(idx)
        if len(idx):
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows.iloc[pd.Index(idx, dtype="int64")].to_numpy(dtype="int64"),
                        "rule": check.rule,
                        "severity": check.severity,
                        "field": check.field,
                        "reason_en": check.reason_en,
                        "reason_id": check.reason_id,
                    }
                )
            )
    if parts:
        return pd.concat(parts, ignore_index=True), counts
    empty = {c: pd.Series(dtype="int64" if c == "row" else "object") for c in FAILURE_COLUMNS}
    return pd.DataFrame(empty), counts


def _context(suite: str, checks: list[Check]) -> tuple[Any, Any]:
    """An ephemeral GX context and the suite of ``checks`` (what Data Docs render)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()  # again: GX creates its loggers on import

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_suite = gx.ExpectationSuite(name=suite)
    for check in checks:
        gx_suite.add_expectation(check.expectation)
    return context, gx_suite


def _validate_with_gx(suite: str, checks: list[Check], data: pd.DataFrame) -> tuple[Any, Any, Any]:
    """``checks`` validated by GX itself (pandas engine, the whole frame as one batch)."""
    context, gx_suite = _context(suite, checks)
    asset = context.data_sources.add_pandas("simpul").add_dataframe_asset(suite)
    batch_def = asset.add_batch_definition_whole_dataframe("delivery")
    batch = batch_def.get_batch(batch_parameters={"dataframe": data})
    return context, gx_suite, batch.validate(gx_suite, result_format=RESULT_FORMAT)


def _evaluate(exp: Any, data: pd.DataFrame) -> tuple[np.ndarray, int, int] | None:
    """Positions of ``data`` failing expectation ``exp``, the size of its domain and the rows
    left out as missing; None when this pass cannot evaluate it (GX does).

    The condition is the expectation's own GX metric function for pandas (built-in or
    ``expectations.custom``), called on the rows GX would give it: a column check on the
    column's non-null values (unless the metric says otherwise, as ``not_null`` does), a
    column pair or column list on the rows its ``ignore_row_if`` keeps. Only GX's machinery
    around it is skipped, so the findings are GX's (``tests/expectations/test_findings_equal``).
    """
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_metric_provider

    if getattr(exp, "row_condition", None) or not getattr(exp, "map_metric", None):
        return None
    try:
        provider, fn = get_metric_provider(f"{exp.map_metric}.condition", _pandas_engine())
    except Exception:  # noqa: BLE001 - no pandas condition: GX evaluates it
        return None
    condition = inspect.unwrap(fn)
    values = {k: getattr(exp, k, None) for k in cast(Any, provider).condition_value_keys}
    n = len(data)
    if isinstance(exp, ColumnMapExpectation):
        column = data[exp.column]
        if getattr(provider, "filter_column_isnull", True):
            keep = column.notna().to_numpy(dtype=bool)
            column = column[keep]
        else:
            keep = np.ones(n, dtype=bool)
        ok = condition(provider, column, **values, _metrics={})
    elif isinstance(exp, ColumnPairMapExpectation):
        pair = data[[exp.column_A, exp.column_B]]
        keep = _keep_rows(
            pair,
            cast(Any, exp).ignore_row_if,
            {"both_values_are_missing": "all", "either_value_is_missing": "any"},
            "neither",
        )
        pair = pair[keep]
        ok = condition(provider, pair[exp.column_A], pair[exp.column_B], **values, _metrics={})
    elif isinstance(exp, MulticolumnMapExpectation):
        cols = data[list(exp.column_list)]
        keep = _keep_rows(
            cols,
            exp.ignore_row_if,
            {"all_values_are_missing": "all", "any_value_is_missing": "any"},
            "never",
        )
        ok = condition(provider, cols[keep], **values, _metrics={})
    else:
        return None
    bad = ~pd.Series(ok).astype("boolean").fillna(True).to_numpy(dtype=bool)
    positions = np.flatnonzero(keep)[bad]
    domain = int(keep.sum())
    return positions.astype("int64"), domain, n - domain


@functools.cache
def _pandas_engine() -> Any:
    """GX looks metric providers up by the engine's type; one instance serves every lookup."""
    from great_expectations.execution_engine import PandasExecutionEngine

    return PandasExecutionEngine()


def _keep_rows(part: pd.DataFrame, ignore: str, how: dict[str, str], never: str) -> np.ndarray:
    """The rows GX's ``get_domain_records`` keeps for an ``ignore_row_if`` (a ``dropna``)."""
    if ignore == never:
        return np.ones(len(part), dtype=bool)
    if ignore not in how:
        raise ValueError(f'Unrecognized value of ignore_row_if ("{ignore}").')
    missing = part.isna()
    gone = missing.all(axis=1) if how[ignore] == "all" else missing.any(axis=1)
    return ~gone.to_numpy(dtype=bool)


def _success(exp: Any, unexpected: int, domain: int) -> bool:
    """GX's success of a map expectation: the share of the domain that passes >= mostly."""
    mostly = getattr(exp, "mostly", None)
    mostly = 1.0 if mostly is None else float(mostly)
    if domain == 0:
        return True
    return (domain - unexpected) / domain >= mostly


def _docs_result(
    suite: str, checks: list[Check], counts: dict[str, int], outcome: _Outcome, n: int
) -> Any:
    """The validation result Data Docs render, from the counts (GX's result fields for map
    expectations; no failing positions, no values)."""
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    results = []
    for check in checks:
        bad = counts.get(check.rule, 0)
        st = outcome.stats.get(check.rule, {"domain": n, "missing": 0})
        domain, missing = st["domain"], st["missing"]
        results.append(
            ExpectationValidationResult(
                success=outcome.success.get(check.rule, True),
                expectation_config=check.expectation.configuration,
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
        suite_name=suite,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": ok,
            "unsuccessful_expectations": len(results) - ok,
            "success_percent": 100.0 * ok / len(results) if results else None,
        },
    )


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
