"""The plain pandas conditions against GX's own ``batch.validate`` on a small frame full of
missing values, each kind with its default ``ignore_row_if`` and ``mostly``, and what the
vectorised pass leaves to GX (a ``row_condition``, an unknown kind)."""

from __future__ import annotations

import pandas as pd

from simpul.validate import Check, Expect, expect
from simpul.validate_conditions import evaluate, success

FRAME = pd.DataFrame(
    {
        "a": pd.array(["1", "1", None, "x", None, "3"], dtype="string"),
        "b": pd.array(["1", None, None, "2", "1", "3"], dtype="string"),
        "n": pd.array([1, 0, None, 5, -1, 2], dtype="Int64"),
    }
)
SPECS = [
    expect("expect_compound_columns_to_be_unique", column_list=["a", "b"]),
    expect("expect_compound_columns_to_be_unique", column_list=["a", "b"], ignore_row_if="never"),
    # (GX itself fails on a pair with one value missing unless ignore_row_if drops it)
    expect(
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A="a",
        column_B="b",
        ignore_row_if="either_value_is_missing",
    ),
    expect("expect_column_values_to_be_between", column="n", min_value=1),
    expect("expect_column_values_to_be_between", column="n", max_value=2, strict_max=True),
    expect("expect_column_values_to_be_in_set", column="a", value_set=["1", "3"], mostly=0.5),
    expect("expect_column_values_to_not_be_null", column="b", mostly=0.9),
    expect("expect_column_values_to_be_unique", column="a"),
    expect("expect_column_values_to_match_regex", column="a", regex=r"^\d$"),
    expect("expect_nik_to_be_unique_or_owned", column_list=["a", "b", "n"]),
]


def test_conditions_give_gx_findings_with_defaults_and_missing_values():
    from simpul.validate_gx import validate_with_gx

    checks = [Check(f"r{i}", "error", "a", spec, "en", "id") for i, spec in enumerate(SPECS)]
    by_gx = validate_with_gx("small", checks, FRAME)
    for check in checks:
        evaluated = evaluate(check.spec.type, check.spec.kwargs, FRAME)
        assert evaluated is not None, check.spec
        positions, domain, missing = evaluated
        gx_positions, gx_success, gx_domain, gx_missing = by_gx[check.rule]
        assert positions.tolist() == sorted(gx_positions.tolist()), check.spec
        assert (domain, missing) == (gx_domain, gx_missing), check.spec
        assert success(check.spec.kwargs, len(positions), domain) == gx_success, check.spec


def test_row_conditions_and_unknown_kinds_are_left_to_gx():
    assert evaluate("expect_column_values_to_be_null", {"column": "a"}, FRAME) is None
    spec = Expect("expect_column_values_to_not_be_null", {"column": "a", "row_condition": "x"})
    assert evaluate(spec.type, spec.kwargs, FRAME) is None
