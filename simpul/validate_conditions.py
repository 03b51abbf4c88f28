"""The vectorised validation pass: each expectation kind the suites use, as a plain pandas
condition, evaluated on the rows GX would hand its metric.

Built-in kinds are written here as GX 1.x writes their pandas conditions (``column.isin``,
``~column.duplicated(keep=False)``, ...); the hub's own kinds are the rules of
:mod:`expectations.rules` that :mod:`expectations.custom` registers with GX. No import of Great
Expectations: a transform evaluates a suite without paying GX's ~5 s import.
``tests/expectations/test_findings_equal.py`` compares every (row, rule) with GX's own
``batch.validate`` for every kind here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Shape = Literal["column", "pair", "multicolumn"]


@dataclass(frozen=True)
class Condition:
    """How to evaluate one kind: its domain, the function (the domain's data first, then the
    ``value_keys`` kwargs in order), whether GX drops a column's nulls first
    (``filter_column_isnull``) and the kind's default ``ignore_row_if``."""

    shape: Shape
    fn: Callable[..., Any]
    value_keys: tuple[str, ...] = ()
    skip_nulls: bool = True
    ignore_row_if: str = "never"


def _in_set(column: pd.Series, value_set: Any) -> Any:
    if value_set is None:  # vacuously true, as GX
        return np.ones(len(column), dtype=np.bool_)
    return column.isin(value_set)


def _between(
    column: pd.Series, min_value: Any, max_value: Any, strict_min: Any, strict_max: Any
) -> Any:
    """GX's pandas ``column_values.between``: vectorised for numpy numbers and datetimes,
    value by value otherwise (values and bounds of one type, or GX raises)."""
    if min_value is None and max_value is None:
        raise ValueError("min_value and max_value cannot both be None")
    if min_value is not None and max_value is not None and min_value > max_value:
        raise ValueError("min_value cannot be greater than max_value")
    if column.dtype in [int, float]:
        return _compare(column, min_value, max_value, strict_min, strict_max)
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_ns_dtype(
        column.dtype
    ):
        low = pd.Timestamp(min_value).to_pydatetime() if isinstance(min_value, str) else min_value
        high = pd.Timestamp(max_value).to_pydatetime() if isinstance(max_value, str) else max_value
        return _compare(column, low, high, strict_min, strict_max)
    return column.map(lambda val: _value_between(val, min_value, max_value, strict_min, strict_max))


def _compare(column: Any, low: Any, high: Any, strict_min: Any, strict_max: Any) -> Any:
    above = True if low is None else (low < column if strict_min else low <= column)
    below = True if high is None else (column < high if strict_max else column <= high)
    return above & below


def _value_between(val: Any, low: Any, high: Any, strict_min: Any, strict_max: Any) -> bool:
    for bound in (low, high):
        if bound is not None and isinstance(val, str) != isinstance(bound, str):
            raise TypeError(
                "Column values, min_value, and max_value must either be None or of the same type."
            )
    return bool(_compare(val, low, high, strict_min, strict_max))


def _a_greater_than_b(column_a: pd.Series, column_b: pd.Series, or_equal: Any) -> Any:
    return column_a >= column_b if or_equal else column_a > column_b


BUILT_IN: dict[str, Condition] = {
    "expect_column_values_to_not_be_null": Condition(
        "column", lambda column: ~column.isnull(), skip_nulls=False
    ),
    "expect_column_values_to_be_unique": Condition(
        "column", lambda column: ~column.duplicated(keep=False)
    ),
    "expect_column_values_to_be_in_set": Condition("column", _in_set, ("value_set",)),
    "expect_column_values_to_match_regex": Condition(
        "column", lambda column, regex: column.astype(str).str.contains(regex), ("regex",)
    ),
    "expect_column_values_to_be_between": Condition(
        "column", _between, ("min_value", "max_value", "strict_min", "strict_max")
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": Condition(
        "pair", _a_greater_than_b, ("or_equal",), ignore_row_if="both_values_are_missing"
    ),
    "expect_compound_columns_to_be_unique": Condition(
        "multicolumn",
        lambda columns: ~columns.duplicated(keep=False),
        ignore_row_if="all_values_are_missing",
    ),
}
# what each ignore_row_if drops (GX's get_domain_records: a dropna how="all"/"any")
_IGNORE = {
    "pair": ({"both_values_are_missing": "all", "either_value_is_missing": "any"}, "neither"),
    "multicolumn": ({"all_values_are_missing": "all", "any_value_is_missing": "any"}, "never"),
}


@functools.cache
def conditions() -> dict[str, Condition]:
    """Every kind the vectorised pass evaluates: GX's built-ins and the hub's own."""
    from expectations.rules import ROW_RULES

    out = dict(BUILT_IN)
    for kind, row_rule in ROW_RULES.items():
        if row_rule.shape == "column":
            out[kind] = Condition("column", row_rule.rule, row_rule.value_keys)
        else:
            rule = row_rule.rule
            out[kind] = Condition(
                "multicolumn",
                lambda cols, r=rule: r(*(cols[c] for c in cols)),
                ignore_row_if="all_values_are_missing",  # GX's MulticolumnMapExpectation default
            )
    return out


def evaluate(
    kind: str, kwargs: Mapping[str, Any], data: pd.DataFrame
) -> tuple[np.ndarray, int, int] | None:
    """Positions of ``data`` failing the expectation ``kind(**kwargs)``, the size of its domain
    and the rows left out as missing; None when this pass cannot evaluate it (GX does): an
    unknown kind or a ``row_condition``."""
    condition = conditions().get(kind)
    if condition is None or kwargs.get("row_condition"):
        return None
    values = [kwargs.get(key) for key in condition.value_keys]
    n = len(data)
    if condition.shape == "column":
        column = data[kwargs["column"]]
        keep = column.notna().to_numpy(dtype=bool) if condition.skip_nulls else np.ones(n, bool)
        ok = condition.fn(column[keep], *values)
    else:
        names = (
            [kwargs["column_A"], kwargs["column_B"]]
            if condition.shape == "pair"
            else list(kwargs["column_list"])
        )
        part = data[names]
        keep = _keep_rows(part, condition.shape, kwargs.get("ignore_row_if"), condition)
        part = part[keep]
        if condition.shape == "pair":
            ok = condition.fn(part[names[0]], part[names[1]], *values)
        else:
            ok = condition.fn(part, *values)
    bad = ~pd.Series(ok).astype("boolean").fillna(True).to_numpy(dtype=bool)
    positions = np.flatnonzero(keep)[bad]
    domain = int(keep.sum())
    return positions.astype("int64"), domain, n - domain


def _keep_rows(
    part: pd.DataFrame, shape: Shape, ignore: str | None, condition: Condition
) -> np.ndarray:
    """The rows GX's ``get_domain_records`` keeps for an ``ignore_row_if`` (a ``dropna``)."""
    how, never = _IGNORE[shape]
    ignore = ignore or condition.ignore_row_if
    if ignore == never:
        return np.ones(len(part), dtype=bool)
    if ignore not in how:
        raise ValueError(f'Unrecognized value of ignore_row_if ("{ignore}").')
    missing = part.isna()
    gone = missing.all(axis=1) if how[ignore] == "all" else missing.any(axis=1)
    return ~gone.to_numpy(dtype=bool)


def success(kwargs: Mapping[str, Any], unexpected: int, domain: int) -> bool:
    """GX's success of a map expectation: the share of the domain that passes >= mostly."""
    mostly = kwargs.get("mostly")
    mostly = 1.0 if mostly is None else float(mostly)
    if domain == 0:
        return True
    return (domain - unexpected) / domain >= mostly
