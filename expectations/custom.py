"""Domain expectations for Great Expectations 1.x: NIK structure and NIK/birth agreement.

They wrap the vectorised rules of :mod:`simpul.domain.nik`, so GX reports and the hub's own
checks can never disagree. Importing this module registers them with GX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
    multicolumn_condition_partial,
)

from simpul.domain import nik as nik_rules

_MULTICOLUMN_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_list",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


def _column_metric(
    name: str, rule: Callable[..., pd.Series], value_keys: tuple[str, ...] = ()
) -> str:
    """Register a pandas column-condition metric ``column_values.simpul_<name>`` that applies
    ``rule(column, *values)``; returns the metric's name for an expectation's ``map_metric``."""

    class Metric(ColumnMapMetricProvider):
        condition_metric_name = f"column_values.simpul_{name}"
        condition_value_keys = value_keys

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return rule(column, *(kwargs.get(key) for key in value_keys))

    Metric.__name__ = Metric.__qualname__ = f"ColumnValues_{name}"
    return Metric.condition_metric_name


def _multicolumn_metric(name: str, rule: Callable[..., pd.Series]) -> str:
    """Register a pandas multicolumn-condition metric ``multicolumn_values.simpul_<name>`` that
    applies ``rule(*columns)`` in the order of the expectation's ``column_list``."""

    class Metric(MulticolumnMapMetricProvider):
        condition_metric_name = f"multicolumn_values.simpul_{name}"
        condition_domain_keys = _MULTICOLUMN_DOMAIN_KEYS

        @multicolumn_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
            return rule(*(column_list[c] for c in column_list.columns))

    Metric.__name__ = Metric.__qualname__ = f"MulticolumnValues_{name}"
    return Metric.condition_metric_name


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


def _tags(*tags: str) -> dict[str, list[str]]:
    return {"tags": ["simpul", *tags], "contributors": ["simpul"]}


class ExpectColumnValuesToBeValidNik(ColumnMapExpectation):
    """16 digits, a known province, a real DDMMYY (day + 40 for women), serial not 0000."""

    map_metric = _column_metric("valid_nik_structure", nik_rules.structure_ok)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToAgreeWithBirthDateAndSex(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: DDMMYY matches, +40 iff female."""

    map_metric = _multicolumn_metric("nik_agrees_with_birth", nik_rules.agrees_with_birth)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToBeRegisteredInRegion(ColumnMapExpectation):
    """First-registration prefix (e.g. '1608'); a warning only, since people move."""

    prefix: str
    map_metric = _column_metric("nik_in_region", nik_rules.in_region, ("prefix",))
    success_keys = ("mostly", "prefix")
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectColumnValuesToBeValidKk(ColumnMapExpectation):
    """Nomor KK: 16 digits, known province, a real issue date, serial not 0000."""

    map_metric = _column_metric("valid_kk_structure", nik_rules.kk_structure_ok)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("kk")


class ExpectColumnValuesToBeDateNotInFuture(ColumnMapExpectation):
    """A date no later than today (WIB) and, if given, no earlier than ``earliest``."""

    earliest: str | None = None
    map_metric = _column_metric("date_not_in_future", _date_not_in_future, ("earliest",))
    success_keys = ("mostly", "earliest")
    library_metadata: ClassVar[dict] = _tags("date")


class ExpectShdkToFitAge(MulticolumnMapExpectation):
    """column_list = [shdk, tanggal_lahir]: kepala keluarga, suami, istri, menantu and mertua
    are at least 15 years old."""

    map_metric = _multicolumn_metric("shdk_fits_age", _shdk_fits_age)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("shdk")


class ExpectColumnValuesToNotBeTemporaryNik(ColumnMapExpectation):
    """OpenSID's temporary NIK ('0' + village code + serial) or '0' (none yet)."""

    map_metric = _column_metric("not_temporary_nik", _not_temporary_nik)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToBeUniqueOrOwned(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: a NIK is on one record, or on several
    of which exactly one agrees with it (that one passes, the copies fail).

    Plain uniqueness would also quarantine the real holder of a NIK someone copied; the NIK's
    own date part tells them apart, so the holder loads and only the copies wait for review.
    """

    map_metric = _multicolumn_metric("nik_unique_or_owner", nik_rules.unique_or_owner)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [nik, nik_ayah, nik_ibu]: a NIK ending in 0 that a child's parent
    reference shows to have lost its 16th digit (see ``nik.excel_truncated_nik``)."""

    map_metric = _multicolumn_metric("nik_not_excel_truncated", nik_rules.excel_truncated_nik)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectKkToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [no_kk, kode_desa]: a KK ending in 0 whose family members in the same
    village carry the same first 15 digits with another last digit."""

    map_metric = _multicolumn_metric("kk_not_excel_truncated", nik_rules.excel_truncated_kk)
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("kk")
