"""The analyst copy's k-anonymity in DuckDB equals the pandas ladder, row for row and step for
step: on the seeded demo world's marts rows, on a small world where every step fires, and on
the rows the disclosure tests build by hand (nulls included)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from simpul.warehouse.disclosure import k_anonymise
from simpul.warehouse.disclosure_sql import WORK, k_anonymise_duckdb
from tests.security.test_disclosure import _mart_rows


def _both(df: pd.DataFrame) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict]:
    want, want_stats = k_anonymise(df, "penduduk")
    con = duckdb.connect()
    con.register("_people", df)
    query, stats = k_anonymise_duckdb(con, "_people", "penduduk")
    got = con.sql(query).df()
    con.execute(f"DROP TABLE {WORK}")
    return want, want_stats, got, stats


def _same(want: pd.DataFrame, got: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    cols = list(want.columns)
    want = want.copy()
    if "umur_min" in cols:  # the pandas ladder leaves it float; protect() makes it Int64
        want["umur_min"] = want["umur_min"].astype("Int64")
        got = got.assign(umur_min=got["umur_min"].astype("Int64"))
    norm = [
        f.astype(object).where(f.notna(), None).astype(str).sort_values(cols).reset_index(drop=True)
        for f in (want, got)
    ]
    pd.testing.assert_frame_equal(norm[0], norm[1])


@pytest.mark.parametrize("population", [3_000, 20_000])
def test_sql_ladder_equals_pandas_on_a_world(population: int) -> None:
    df = _mart_rows(population, None).reset_index(drop=True)
    # some unknowns: a null class must count as one value in both
    df.loc[df.index % 97 == 0, "pekerjaan"] = None
    df.loc[df.index % 89 == 0, "kelompok_umur"] = None
    want, want_stats, got, stats = _both(df)
    assert stats == want_stats
    assert len(want_stats) > 2  # more than one step fired
    _same(want, got)


def test_sql_ladder_of_an_empty_table_keeps_its_columns() -> None:
    df = _mart_rows(3_000, None).head(0)
    want, want_stats, got, stats = _both(df)
    assert stats == want_stats == {}
    assert list(got.columns) == list(want.columns) and got.empty
