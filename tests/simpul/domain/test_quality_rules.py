"""Cross-record NIK/KK rules: duplicate ownership and Excel truncation, each passing and failing."""

from datetime import date

import pandas as pd

from simpul.domain import nik

WOMAN_1990 = "1608014101900001"  # woman born 1 Jan 1990
MAN_1985 = "1608011505850003"  # man born 15 May 1985


def test_unique_nik_passes_and_the_holder_of_a_copied_nik_keeps_it():
    niks = pd.Series([WOMAN_1990, WOMAN_1990, MAN_1985, None, None])
    born = pd.Series([date(1990, 1, 1), date(1985, 5, 15), date(1985, 5, 15), None, None])
    sex = pd.Series(["2", "1", "1", None, None])
    # row 1 holds the NIK; row 2 is someone else's data under it; nulls are not judged
    assert nik.unique_or_owner(niks, born, sex).tolist() == [True, False, True, True, True]


def test_when_no_or_several_records_fit_a_shared_nik_all_fail():
    both = nik.unique_or_owner(
        pd.Series([WOMAN_1990, WOMAN_1990]),
        pd.Series([date(1990, 1, 1), date(1990, 1, 1)]),
        pd.Series(["2", "2"]),
    )
    neither = nik.unique_or_owner(
        pd.Series([WOMAN_1990, WOMAN_1990]),
        pd.Series([date(1991, 1, 1), None]),
        pd.Series(["2", "2"]),
    )
    assert both.tolist() == [False, False] and neither.tolist() == [False, False]


def test_truncated_nik_needs_a_parent_reference_as_evidence():
    cut = "1608014101900010"  # was ...0017 before Excel
    niks = pd.Series([cut, "1608011301900020", "1608011301050003"])
    ayah = pd.Series([None, None, None])
    ibu = pd.Series([None, None, "1608014101900017"])  # the child names the uncut NIK
    assert nik.excel_truncated_nik(niks, ayah, ibu).tolist() == [False, True, True]
    # without the reference a NIK ending in 0 is just a NIK
    assert nik.excel_truncated_nik(niks, ayah, pd.Series([None] * 3)).all()
    # a reference that some record does carry is not evidence
    niks2 = pd.concat([niks, pd.Series(["1608014101900017"])], ignore_index=True)
    ibu2 = pd.concat([ibu, pd.Series([None])], ignore_index=True)
    ayah2 = pd.Series([None] * 4)
    assert nik.excel_truncated_nik(niks2, ayah2, ibu2).all()


def test_truncated_kk_needs_a_family_member_in_the_same_village():
    kk = pd.Series(["1608010101100013", "1608010101100010", "1608010101100010", "1608010101200020"])
    desa = pd.Series(["16.08.01.2006", "16.08.01.2006", "16.08.01.2009", "16.08.01.2006"])
    assert nik.excel_truncated_kk(kk, desa).tolist() == [True, False, True, True]
