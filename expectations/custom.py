"""Domain expectations for Great Expectations 1.x: NIK structure and NIK/birth agreement.

They wrap the plain pandas rules of :mod:`expectations.rules` (those of :mod:`simpul.domain.nik`
and a few more), which the vectorised pass evaluates without GX, so GX reports and the hub's own
checks can never disagree. Importing this module registers them with GX; only GX validation and
Data Docs import it.
"""

from __future__ import annotations

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

from expectations.rules import ROW_RULES

_MULTICOLUMN_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_list",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


def _column_metric(expectation_type: str) -> str:
    """Register the pandas column-condition metric of ``ROW_RULES[expectation_type]`` (its rule
    applied as ``rule(column, *values)``); returns the metric's name for ``map_metric``."""
    row_rule = ROW_RULES[expectation_type]
    rule, value_keys = row_rule.rule, row_rule.value_keys

    class Metric(ColumnMapMetricProvider):
        condition_metric_name = row_rule.metric
        condition_value_keys = value_keys

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return rule(column, *(kwargs.get(key) for key in value_keys))

    short = row_rule.metric.split(".simpul_")[-1]
    Metric.__name__ = Metric.__qualname__ = f"ColumnValues_{short}"
    return Metric.condition_metric_name


def _multicolumn_metric(expectation_type: str) -> str:
    """Register the pandas multicolumn-condition metric of ``ROW_RULES[expectation_type]`` (its
    rule applied as ``rule(*columns)`` in the order of the expectation's ``column_list``)."""
    row_rule = ROW_RULES[expectation_type]
    rule = row_rule.rule

    class Metric(MulticolumnMapMetricProvider):
        condition_metric_name = row_rule.metric
        condition_domain_keys = _MULTICOLUMN_DOMAIN_KEYS

        @multicolumn_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
            return rule(*(column_list[c] for c in column_list.columns))

    short = row_rule.metric.split(".simpul_")[-1]
    Metric.__name__ = Metric.__qualname__ = f"MulticolumnValues_{short}"
    return Metric.condition_metric_name


def _tags(*tags: str) -> dict[str, list[str]]:
    return {"tags": ["simpul", *tags], "contributors": ["simpul"]}


class ExpectColumnValuesToBeValidNik(ColumnMapExpectation):
    """16 digits, a known province, a real DDMMYY (day + 40 for women), serial not 0000."""

    map_metric = _column_metric("expect_column_values_to_be_valid_nik")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToAgreeWithBirthDateAndSex(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: DDMMYY matches, +40 iff female."""

    map_metric = _multicolumn_metric("expect_nik_to_agree_with_birth_date_and_sex")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToBeRegisteredInRegion(ColumnMapExpectation):
    """First-registration prefix (e.g. '1608'); a warning only, since people move."""

    prefix: str
    map_metric = _column_metric("expect_nik_to_be_registered_in_region")
    success_keys = ("mostly", "prefix")
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectColumnValuesToBeValidKk(ColumnMapExpectation):
    """Nomor KK: 16 digits, known province, a real issue date, serial not 0000."""

    map_metric = _column_metric("expect_column_values_to_be_valid_kk")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("kk")


class ExpectColumnValuesToBeDateNotInFuture(ColumnMapExpectation):
    """A date no later than today (WIB) and, if given, no earlier than ``earliest``."""

    earliest: str | None = None
    map_metric = _column_metric("expect_column_values_to_be_date_not_in_future")
    success_keys = ("mostly", "earliest")
    library_metadata: ClassVar[dict] = _tags("date")


class ExpectShdkToFitAge(MulticolumnMapExpectation):
    """column_list = [shdk, tanggal_lahir]: kepala keluarga, suami, istri, menantu and mertua
    are at least 15 years old."""

    map_metric = _multicolumn_metric("expect_shdk_to_fit_age")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("shdk")


class ExpectColumnValuesToNotBeTemporaryNik(ColumnMapExpectation):
    """OpenSID's temporary NIK ('0' + village code + serial) or '0' (none yet)."""

    map_metric = _column_metric("expect_column_values_to_not_be_temporary_nik")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToBeUniqueOrOwned(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: a NIK is on one record, or on several
    of which exactly one agrees with it (that one passes, the copies fail).

    Plain uniqueness would also quarantine the real holder of a NIK someone copied; the NIK's
    own date part tells them apart, so the holder loads and only the copies wait for review.
    """

    map_metric = _multicolumn_metric("expect_nik_to_be_unique_or_owned")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectNikToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [nik, nik_ayah, nik_ibu]: a NIK ending in 0 that a child's parent
    reference shows to have lost its 16th digit (see ``nik.excel_truncated_nik``)."""

    map_metric = _multicolumn_metric("expect_nik_to_not_be_excel_truncated")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("nik")


class ExpectKkToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [no_kk, kode_desa]: a KK ending in 0 whose family members in the same
    village carry the same first 15 digits with another last digit."""

    map_metric = _multicolumn_metric("expect_kk_to_not_be_excel_truncated")
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = _tags("kk")
