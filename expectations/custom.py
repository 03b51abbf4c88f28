"""Domain expectations for Great Expectations 1.x: NIK structure and NIK/birth agreement.

They wrap the vectorised rules of :mod:`simpul.domain.nik`, so GX reports and the hub's own
checks can never disagree. Importing this module registers them with GX.
"""

from __future__ import annotations

from typing import ClassVar

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


class ColumnValuesValidNikStructure(ColumnMapMetricProvider):
    condition_metric_name = "column_values.simpul_valid_nik_structure"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return nik_rules.structure_ok(column)


class ExpectColumnValuesToBeValidNik(ColumnMapExpectation):
    """16 digits, a known province, a real DDMMYY (day + 40 for women), serial not 0000."""

    map_metric = "column_values.simpul_valid_nik_structure"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}


class NikAgreesWithBirth(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.simpul_nik_agrees_with_birth"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        nik, born, sex = (column_list[c] for c in column_list.columns)
        return nik_rules.agrees_with_birth(nik, born, sex)


class ExpectNikToAgreeWithBirthDateAndSex(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: DDMMYY matches, +40 iff female."""

    map_metric = "multicolumn_values.simpul_nik_agrees_with_birth"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}


class NikInRegion(ColumnMapMetricProvider):
    condition_metric_name = "column_values.simpul_nik_in_region"
    condition_value_keys = ("prefix",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, prefix, **kwargs):
        return nik_rules.in_region(column, prefix)


class ExpectNikToBeRegisteredInRegion(ColumnMapExpectation):
    """First-registration prefix (e.g. '1608'); a warning only, since people move."""

    prefix: str
    map_metric = "column_values.simpul_nik_in_region"
    success_keys = ("mostly", "prefix")
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}
