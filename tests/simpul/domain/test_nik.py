from datetime import date, timedelta

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from simpul.domain import nik


def make_nik(born: date, female: bool, region: str = "160801", serial: int = 1) -> str:
    day = born.day + (40 if female else 0)
    return f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def test_structure_accepts_valid_and_rejects_broken():
    s = pd.Series(
        [
            "1608014101900001",  # woman born 1 Jan 1990
            "1608011301900002",  # man born 13 Jan 1990
            "160801410190000",  # 15 digits
            "1608014101900000",  # serial 0000
            "9908011301900002",  # unknown province
            "1608013202900002",  # 32 February is no date
            "1608017102900002",  # 71-40 = 31 February
            None,  # nulls are judged by the not-null rule
        ],
        dtype="string",
    )
    assert nik.structure_ok(s).tolist() == [True, True, False, False, False, False, False, True]


def test_29_february_only_in_leap_years_is_not_rejected_by_structure():
    # structure uses year 2000 (a leap year) because the century is unknown
    assert nik.structure_ok(pd.Series(["1608012902000001"])).tolist() == [True]


def test_agreement_with_birth_date_and_sex():
    n = pd.Series(["1608014101900001", "1608010101900001", "1608014101900001"])
    born = pd.Series([date(1990, 1, 1), date(1990, 1, 1), date(1991, 1, 1)])
    sex = pd.Series(["2", "2", "2"])
    assert nik.agrees_with_birth(n, born, sex).tolist() == [True, False, False]


def test_temporary_opensid_nik_is_recognised():
    s = pd.Series(["0", "0160801200600001", "1608014101900001"])
    assert nik.is_temporary_nik(s).tolist() == [True, True, False]


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 11, 1)),
    female=st.booleans(),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_property_every_generated_nik_is_valid_and_agrees(born, female, serial):
    value = make_nik(born, female, serial=serial)
    n = pd.Series([value])
    assert nik.structure_ok(n).all()
    assert nik.agrees_with_birth(n, pd.Series([born]), pd.Series(["2" if female else "1"])).all()


@given(born=st.dates(min_value=date(1950, 1, 1), max_value=date(2020, 1, 1)))
def test_property_sex_swap_is_detected(born):
    value = make_nik(born, female=True)
    assert not nik.agrees_with_birth(pd.Series([value]), pd.Series([born]), pd.Series(["1"])).all()
    other = born + timedelta(days=1)
    assert not nik.agrees_with_birth(pd.Series([value]), pd.Series([other]), pd.Series(["2"])).all()
