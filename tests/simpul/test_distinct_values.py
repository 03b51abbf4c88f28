"""The transform's shortcuts give what the plain computation gives: conversions once per
distinct value (remembered across batches), row hashes by DuckDB, NIK parts read per distinct
value."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from simpul.domain import nik as nik_rules
from simpul.domain.text import clean_digits, clean_text
from simpul.mapping_values import Memo, parse_dates, per_distinct
from simpul.pipeline.mapped import content_hash

FORMATS = ["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"]
VALUES = ["01-02-1990", "31-02-1990", "1990-02-01", "02/03/1991", "34703", " 01-02-1990",
          "", "-", "x", None, "29-02-2000", "29-02-1900", "1.608.014", "16 08",
          "1608014101900001.0"]  # fmt: skip


def _dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    cleaned = clean_text(s)
    val = parse_dates(cleaned, FORMATS, excel_serial=True)
    return val, (cleaned.notna() & pd.Series(val, index=s.index).isna()).astype(bool)


@pytest.mark.parametrize("limit", [100_000, 5])
def test_remembered_conversions_equal_the_plain_ones_batch_by_batch(limit):
    rng = random.Random(3)
    memo, digits_memo = Memo(limit), Memo(limit)
    for size in (60, 60, 7, 40, 1):  # values new and seen, a small last batch
        batch = pd.Series(
            [rng.choice(VALUES) for _ in range(size)],
            dtype="string",
            index=range(1000, 1000 + size),
        )
        got, want = per_distinct(batch, _dates, memo), _dates(batch)
        for g, w in zip(got, want, strict=True):
            pd.testing.assert_series_equal(g, w, check_dtype=False)
        pd.testing.assert_series_equal(
            per_distinct(batch, clean_digits, digits_memo), clean_digits(batch)
        )
    if limit == 5:
        assert not memo.usable and memo.keys is None  # gave up: memory stays bounded


def test_a_column_of_distinct_values_is_not_remembered():
    memo = Memo()
    names = pd.Series([f"NAMA {i}" for i in range(30_000)], dtype="string")
    pd.testing.assert_series_equal(per_distinct(names, clean_text, memo), clean_text(names))
    assert not memo.usable


def test_content_hash_finds_the_same_copies_as_pandas():
    frame = pd.DataFrame(
        {
            "a": ["x", None, "x", "", "x", "y", None],
            'b "q"': ["1", "2", "1", None, "1", "1", "2"],
        },
        dtype="string",
    )
    import duckdb

    with duckdb.connect() as con:
        got = content_hash(frame, con).duplicated(keep="first")
        assert content_hash(frame.iloc[:0], con).empty
    want = pd.util.hash_pandas_object(frame.fillna("\x00"), index=False).duplicated(keep="first")
    assert got.tolist() == want.tolist() == [False, False, True, False, True, False, True]


def test_nik_number_parts_equal_to_numeric():
    base = ["1608014101900001", "12", "1a2b3c4d5e6f7g8h", None, "16080 1 1 1 1 11",
            "160801-1+1.1e111", "0000000000000000", "16080101019 1234"]  # fmt: skip
    rng = random.Random(5)
    cases = [base, [None] * 8, [], *(rng.sample(base, k) for k in range(1, 8) for _ in range(20))]
    for values in cases:
        s = pd.Series(values * 150, dtype="string", index=range(7, 7 + 150 * len(values)))
        for start, stop in ((6, 8), (8, 10), (10, 12)):
            part = s.str.slice(start, stop)
            pd.testing.assert_series_equal(
                nik_rules._number(part), pd.to_numeric(part, errors="coerce")
            )
