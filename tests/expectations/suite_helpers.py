"""One GX run per suite: good records plus one bad record per rule; each bad record must fail
its rule (and the good ones nothing), so every rule has a passing and a failing record."""

from __future__ import annotations

from typing import Any

import pandas as pd

from simpul.validate import load_checks, run_suite


def check_suite(suite: str, good: list[dict[str, Any]], failing: dict[str, Any]) -> None:
    rules = {c.rule for c in load_checks(suite)}
    assert set(failing) == rules, f"untested rules: {rules - set(failing)}"
    rows = [dict(r) for r in good]
    expect: dict[int, str] = {}
    for rule, change in failing.items():
        bad = dict(good[0]) if change == "duplicate" else dict(good[len(rows) % len(good)])
        if callable(change):
            bad = change(bad)
        elif change != "duplicate":
            bad.update(change)
        rows.append(bad)
        expect[len(rows)] = rule
    frame = pd.DataFrame(rows)
    numbers = pd.Series(range(1, len(rows) + 1))
    failures, _ = run_suite(frame, suite, numbers)
    by_row = failures.groupby("row")["rule"].apply(set).to_dict()
    for row, rule in expect.items():
        assert rule in by_row.get(row, set()), f"{rule}: row {row} did not fail it"
    dup_rules = {r for r, c in failing.items() if c == "duplicate"}
    for row in range(1, len(good) + 1):
        assert by_row.get(row, set()) <= dup_rules, f"good row {row} failed {by_row.get(row)}"
    assert set(failures["reason_id"]) and all(failures["reason_en"])
