"""Row-level validation with Great Expectations suites, before anything is loaded.

A suite (``expectations/<suite>.py``) is a list of :class:`Check`: a GX expectation by its type
name and kwargs (:class:`Expect`), with the check's severity and bilingual reason. The
vectorised pass (:mod:`simpul.validate_conditions`) evaluates every kind the suites use in plain
pandas, exactly as GX's own pandas conditions do, and turns failing positions into per-row
failures. Great Expectations (~5 s to import) is imported only where it is needed
(:mod:`simpul.validate_gx`): a check's GX object (:attr:`Check.expectation`), the reference run
``engine="gx"``, a kind the vectorised pass does not know, and Data Docs, which are rendered
from the stored result by :func:`build_data_docs` (inline when ``SIMPUL_DATA_DOCS=inline``).
A transform with Data Docs deferred (the default) never imports GX.

Failures and stored results carry failing *positions* and counts only, never values: the
values are NIKs and names.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from simpul.validate_conditions import evaluate, success

Severity = Literal["error", "warn"]
FAILURE_COLUMNS = ["row", "rule", "severity", "field", "reason_en", "reason_id"]
STORED_RESULT = "validation_result.json"  # what build_data_docs renders (simpul.validate_gx)


@dataclass(frozen=True)
class Expect:
    """A GX expectation as data: its type name (``"expect_column_values_to_not_be_null"``) and
    kwargs (``{"column": "nik"}``), JSON-serialisable and free of GX."""

    type: str
    kwargs: dict[str, Any]


def expect(type_name: str, **kwargs: Any) -> Expect:
    """``expect("expect_column_values_to_be_in_set", column="agama", value_set=[...])``."""
    return Expect(type_name, kwargs)


@dataclass(frozen=True)
class Check:
    rule: str
    severity: Severity
    field: str
    spec: Expect
    reason_en: str
    reason_id: str

    @functools.cached_property
    def expectation(self) -> Any:
        """The GX Expectation of :attr:`spec` (imports GX, once per process), with the rule and
        severity as its ``meta``."""
        from simpul.validate_gx import gx_expectation

        meta = {"rule": self.rule, "severity": self.severity}
        return gx_expectation(self.spec.type, self.spec.kwargs, meta)


def load_checks(suite: str, **kwargs: Any) -> list[Check]:
    """The checks of suite ``expectations/<suite>.py``."""
    checks: list[Check] = importlib.import_module(f"expectations.{suite}").checks(**kwargs)
    return checks


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
    to ``docs_dir/validation.json``, and the result Data Docs render (counts per check, no
    failing positions, no values) to ``docs_dir/validation_result.json``; GX Data Docs go to
    ``docs_dir/data_docs/`` when :func:`build_data_docs` runs (here, if
    ``SIMPUL_DATA_DOCS=inline``).

    ``engine="vectorised"`` (the default) evaluates every check in one pass over the frame
    without GX (see :mod:`simpul.validate_conditions`); checks it cannot evaluate (a
    ``row_condition``, an unknown kind) go through GX. ``engine="gx"`` runs the whole suite
    through ``batch.validate``: the reference the findings-equality test compares with.
    """
    checks = load_checks(suite, **kwargs)
    data = frame.reset_index(drop=True)
    outcome = _Outcome()
    rest = _evaluate_all(checks, data, outcome) if engine == "vectorised" else checks
    if rest:
        _validate_rest(suite, rest, data, outcome)
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
        stored = _stored_result(suite, docs_dir.name, checks, counts, outcome, len(data))
        (docs_dir / STORED_RESULT).write_text(json.dumps(stored, indent=2), encoding="utf-8")
        if data_docs_inline():
            build_data_docs(docs_dir)
    return failures, summary


def data_docs_inline() -> bool:
    """``SIMPUL_DATA_DOCS=inline`` builds Data Docs in every run (and imports GX there);
    ``deferred`` (the default, also when empty) leaves them to :func:`build_data_docs`."""
    mode = (os.environ.get("SIMPUL_DATA_DOCS") or "deferred").strip().lower()
    if mode not in {"inline", "deferred"}:
        raise ValueError(
            f"SIMPUL_DATA_DOCS must be inline or deferred, not {mode!r} / "
            f"SIMPUL_DATA_DOCS harus inline atau deferred, bukan {mode!r}"
        )
    return mode == "inline"


def build_data_docs(docs_dir: Path) -> Path:
    """GX Data Docs in ``docs_dir/data_docs`` from the result ``run_suite`` stored in
    ``docs_dir`` (imports GX); returns the site's index page."""
    from simpul.validate_gx import build_data_docs as build

    return build(docs_dir)


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
            evaluated = evaluate(check.spec.type, check.spec.kwargs, data)
        except Exception:  # noqa: BLE001 - GX runs it and reports why it cannot
            evaluated = None
        if evaluated is None:
            rest.append(check)
            continue
        positions, domain, missing = evaluated
        outcome.unexpected[check.rule] = positions
        outcome.stats[check.rule] = {"domain": domain, "missing": missing}
        outcome.success[check.rule] = success(check.spec.kwargs, len(positions), domain)
    return rest


def _validate_rest(suite: str, checks: list[Check], data: pd.DataFrame, outcome: _Outcome) -> None:
    """Run ``checks`` through GX itself into ``outcome``."""
    from simpul.validate_gx import validate_with_gx

    for rule, (positions, ok, domain, missing) in validate_with_gx(suite, checks, data).items():
        outcome.unexpected[rule] = positions
        outcome.success[rule] = ok
        outcome.stats[rule] = {"domain": domain, "missing": missing}


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


def _stored_result(
    suite: str, run: str, checks: list[Check], counts: dict[str, int], outcome: _Outcome, n: int
) -> dict[str, Any]:
    """What Data Docs render, as JSON: per check its expectation, success and counts (no
    failing positions, no values)."""
    stored_checks = []
    for check in checks:
        stats = outcome.stats.get(check.rule, {"domain": n, "missing": 0})
        stored_checks.append(
            {
                "rule": check.rule,
                "severity": check.severity,
                "type": check.spec.type,
                "kwargs": check.spec.kwargs,
                "success": outcome.success.get(check.rule, True),
                "unexpected_count": counts.get(check.rule, 0),
                "domain": stats["domain"],
                "missing": stats["missing"],
            }
        )
    return {"suite": suite, "run": run, "evaluated_rows": n, "checks": stored_checks}
