"""The row rules of the hub's own expectations, in plain pandas: what each custom GX
expectation (:mod:`expectations.custom`) tests, by its GX type name.

Kept apart from the GX classes so the vectorised validation pass (``simpul.validate_conditions``)
evaluates them without importing Great Expectations; the classes register the very same
functions as their GX metrics, so GX and the hub can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from simpul.domain import nik as nik_rules


@dataclass(frozen=True)
class RowRule:
    """One custom expectation's rule: its GX metric name, the domain it reads (a column, or
    the expectation's ``column_list`` in order) and the kwargs passed after the columns."""

    metric: str
    shape: Literal["column", "multicolumn"]
    rule: Callable[..., pd.Series]
    value_keys: tuple[str, ...] = ()


def _date_not_in_future(column: pd.Series, earliest: str | None = None) -> pd.Series:
    """No later than today (WIB) and, if given, no earlier than ``earliest``; unreadable passes."""
    d = pd.to_datetime(column, errors="coerce")
    today = pd.Timestamp.now(tz="Asia/Jakarta").tz_localize(None).normalize()
    ok = d <= today
    if earliest:
        ok &= d >= pd.Timestamp(earliest)
    return ok | d.isna()


def _shdk_fits_age(shdk: pd.Series, born: pd.Series) -> pd.Series:
    """Head of family, husband or wife: married adults (marriage age was 16 for women before
    UU 16/2019, so 15 is the warning line)."""
    age = nik_rules.age_on(born, pd.Timestamp.now().normalize())
    adult_role = shdk.astype("string").isin(["1", "2", "3", "5", "8"])
    return (~(adult_role & (age < 15))).fillna(True).astype(bool)


def _not_temporary_nik(column: pd.Series) -> pd.Series:
    return ~nik_rules.is_temporary_nik(column).fillna(False).astype(bool)


ROW_RULES: dict[str, RowRule] = {
    "expect_column_values_to_be_valid_nik": RowRule(
        "column_values.simpul_valid_nik_structure", "column", nik_rules.structure_ok
    ),
    "expect_nik_to_agree_with_birth_date_and_sex": RowRule(
        "multicolumn_values.simpul_nik_agrees_with_birth",
        "multicolumn",
        nik_rules.agrees_with_birth,
    ),
    "expect_nik_to_be_registered_in_region": RowRule(
        "column_values.simpul_nik_in_region", "column", nik_rules.in_region, ("prefix",)
    ),
    "expect_column_values_to_be_valid_kk": RowRule(
        "column_values.simpul_valid_kk_structure", "column", nik_rules.kk_structure_ok
    ),
    "expect_column_values_to_be_date_not_in_future": RowRule(
        "column_values.simpul_date_not_in_future", "column", _date_not_in_future, ("earliest",)
    ),
    "expect_shdk_to_fit_age": RowRule(
        "multicolumn_values.simpul_shdk_fits_age", "multicolumn", _shdk_fits_age
    ),
    "expect_column_values_to_not_be_temporary_nik": RowRule(
        "column_values.simpul_not_temporary_nik", "column", _not_temporary_nik
    ),
    "expect_nik_to_be_unique_or_owned": RowRule(
        "multicolumn_values.simpul_nik_unique_or_owner", "multicolumn", nik_rules.unique_or_owner
    ),
    "expect_nik_to_not_be_excel_truncated": RowRule(
        "multicolumn_values.simpul_nik_not_excel_truncated",
        "multicolumn",
        nik_rules.excel_truncated_nik,
    ),
    "expect_kk_to_not_be_excel_truncated": RowRule(
        "multicolumn_values.simpul_kk_not_excel_truncated",
        "multicolumn",
        nik_rules.excel_truncated_kk,
    ),
}
