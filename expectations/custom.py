"""Domain expectations for Great Expectations 1.x: NIK structure and NIK/birth agreement.

They wrap the vectorised rules of :mod:`simpul.domain.nik`, so GX reports and the hub's own
checks can never disagree. Importing this module registers them with GX.
"""

from __future__ import annotations

from typing import ClassVar

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


class ColumnValuesValidKk(ColumnMapMetricProvider):
    condition_metric_name = "column_values.simpul_valid_kk_structure"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return nik_rules.kk_structure_ok(column)


class ExpectColumnValuesToBeValidKk(ColumnMapExpectation):
    """Nomor KK: 16 digits, known province, a real issue date, serial not 0000."""

    map_metric = "column_values.simpul_valid_kk_structure"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "kk"], "contributors": ["simpul"]}


class ColumnValuesDateNotInFuture(ColumnMapMetricProvider):
    condition_metric_name = "column_values.simpul_date_not_in_future"
    condition_value_keys = ("earliest",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, earliest=None, **kwargs):
        d = pd.to_datetime(column, errors="coerce")
        today = pd.Timestamp.now(tz="Asia/Jakarta").tz_localize(None).normalize()
        ok = d <= today
        if earliest:
            ok &= d >= pd.Timestamp(earliest)
        return ok | d.isna()


class ExpectColumnValuesToBeDateNotInFuture(ColumnMapExpectation):
    """A date no later than today (WIB) and, if given, no earlier than ``earliest``."""

    earliest: str | None = None
    map_metric = "column_values.simpul_date_not_in_future"
    success_keys = ("mostly", "earliest")
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "date"], "contributors": ["simpul"]}


class ShdkFitsAge(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.simpul_shdk_fits_age"
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
        shdk, born = (column_list[c] for c in column_list.columns)
        age = nik_rules.age_on(born, pd.Timestamp.now().normalize())
        # head of family, husband or wife: married adults (marriage age was 16 for women
        # before UU 16/2019, so 15 is the warning line)
        adult_role = shdk.astype("string").isin(["1", "2", "3", "5", "8"])
        return (~(adult_role & (age < 15))).fillna(True).astype(bool)


class ExpectShdkToFitAge(MulticolumnMapExpectation):
    """column_list = [shdk, tanggal_lahir]: kepala keluarga, suami, istri, menantu and mertua
    are at least 15 years old."""

    map_metric = "multicolumn_values.simpul_shdk_fits_age"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "shdk"], "contributors": ["simpul"]}


class ColumnValuesNotTemporaryNik(ColumnMapMetricProvider):
    condition_metric_name = "column_values.simpul_not_temporary_nik"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return ~nik_rules.is_temporary_nik(column).fillna(False).astype(bool)


class ExpectColumnValuesToNotBeTemporaryNik(ColumnMapExpectation):
    """OpenSID's temporary NIK ('0' + village code + serial) or '0' (none yet)."""

    map_metric = "column_values.simpul_not_temporary_nik"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}


_MULTICOLUMN_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_list",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


class NikUniqueOrOwner(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.simpul_nik_unique_or_owner"
    condition_domain_keys = _MULTICOLUMN_DOMAIN_KEYS

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        nik, born, sex = (column_list[c] for c in column_list.columns)
        return nik_rules.unique_or_owner(nik, born, sex)


class ExpectNikToBeUniqueOrOwned(MulticolumnMapExpectation):
    """column_list = [nik, tanggal_lahir, jenis_kelamin]: a NIK is on one record, or on several
    of which exactly one agrees with it (that one passes, the copies fail).

    Plain uniqueness would also quarantine the real holder of a NIK someone copied; the NIK's
    own date part tells them apart, so the holder loads and only the copies wait for review.
    """

    map_metric = "multicolumn_values.simpul_nik_unique_or_owner"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}


class NikNotExcelTruncated(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.simpul_nik_not_excel_truncated"
    condition_domain_keys = _MULTICOLUMN_DOMAIN_KEYS

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        nik, *refs = (column_list[c] for c in column_list.columns)
        return nik_rules.excel_truncated_nik(nik, *refs)


class ExpectNikToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [nik, nik_ayah, nik_ibu]: a NIK ending in 0 that a child's parent
    reference shows to have lost its 16th digit (see ``nik.excel_truncated_nik``)."""

    map_metric = "multicolumn_values.simpul_nik_not_excel_truncated"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "nik"], "contributors": ["simpul"]}


class KkNotExcelTruncated(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.simpul_kk_not_excel_truncated"
    condition_domain_keys = _MULTICOLUMN_DOMAIN_KEYS

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        no_kk, desa = (column_list[c] for c in column_list.columns)
        return nik_rules.excel_truncated_kk(no_kk, desa)


class ExpectKkToNotBeExcelTruncated(MulticolumnMapExpectation):
    """column_list = [no_kk, kode_desa]: a KK ending in 0 whose family members in the same
    village carry the same first 15 digits with another last digit."""

    map_metric = "multicolumn_values.simpul_kk_not_excel_truncated"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["simpul", "kk"], "contributors": ["simpul"]}
