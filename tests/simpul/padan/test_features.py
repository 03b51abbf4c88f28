"""Dates, sexes and NIK parts as agency files deliver them; thresholds; NIK masking."""

from __future__ import annotations

from datetime import date

import pandas as pd

from simpul.padan.comparisons import explain
from simpul.padan.decisions import AUTO_THRESHOLD, REVIEW_THRESHOLD, decide
from simpul.padan.features import digits, nik_birth, parse_date, prepare
from simpul.padan.store import mask_pair


def test_dates_in_every_delivered_form() -> None:
    d = date(1985, 3, 7)
    assert parse_date("1985-03-07") == d
    assert parse_date("07-03-1985") == d
    assert parse_date("07/03/1985") == d
    assert parse_date(str((d - date(1899, 12, 30)).days)) == d  # Excel serial
    assert parse_date("1985-03-07T00:00:00") == d
    assert parse_date("not a date") is None and parse_date(None) is None


def test_nik_date_and_sex() -> None:
    assert nik_birth("1608014703850002") == (date(1985, 3, 7), "2")  # day + 40: woman
    assert nik_birth("1608010703850002") == (date(1985, 3, 7), "1")
    assert digits("'1608 0107.0385 0002") == "1608010703850002"
    assert digits("0") is None and digits("123") is None


def test_missing_birth_date_and_sex_come_from_the_nik() -> None:
    df = prepare(
        pd.DataFrame([{"record_id": "a", "nik": "1608014703850002", "nama_lengkap": "Hj. Siti"}])
    )
    row = df.iloc[0]
    assert row["tgl_lahir"] == "1985-03-07" and row["jk"] == "2" and row["nama"] == "SITI"


def test_thresholds() -> None:
    assert decide(AUTO_THRESHOLD) == "tertaut_otomatis"
    assert decide(0.999) == "tertaut_otomatis"
    assert decide(AUTO_THRESHOLD - 1e-9) == "tinjau"
    assert decide(REVIEW_THRESHOLD) == "tinjau"
    assert decide(REVIEW_THRESHOLD - 1e-9) == "tidak_cocok"
    assert decide(None) == "tidak_cocok" and decide(float("nan")) == "tidak_cocok"
    # two plausible people: never auto-linked to whichever scored first
    assert decide(0.999, REVIEW_THRESHOLD) == "tinjau"
    assert decide(0.999, REVIEW_THRESHOLD - 1e-9) == "tertaut_otomatis"
    assert decide(0.999, float("nan")) == "tertaut_otomatis"


def test_explanation_in_both_languages() -> None:
    id_, en = explain({"nama": 4, "tgl_lahir": 3, "nik": 3, "kode_desa": -1})
    assert "nama sama" in id_ and "same name" in en
    assert "tanggal dan bulan lahir tertukar" in id_ and "birth day and month swapped" in en
    assert "NIK beda satu angka" in id_ and "NIK differs in one digit" in en


def test_mask_shows_only_the_differing_digits() -> None:
    a, b = mask_pair("1608010703850002", "1608010708850002")
    assert a == "*********3******" and b == "*********8******"
    assert mask_pair(None, "1608010703850002") == ("-", "*" * 16)
    # a delivered NIK that is no 16-digit number (Excel's 1.60801E+15, an apostrophe, 15
    # digits): nothing lines up digit by digit, so nothing is shown
    for bad in ("1.60801E+15", "'1608010703850002", "160801070385000"):
        got = mask_pair(bad, "1608010703850002")
        assert set(got[0]) == {"*"} and got[1] == "*" * 16
    # the same NIK on both sides shows nothing at all
    assert mask_pair("1608010703850002", "1608010703850002") == ("*" * 16, "*" * 16)


def test_a_bare_nik_is_no_birth_date_and_links_only_exactly() -> None:
    """Permit applicants: a record with nothing but a NIK gets no birth date or sex from the
    NIK (that would count the NIK's digits twice); EM still has a block to train on; an exact
    SIAK NIK is a direct link, a NIK one digit off is not."""
    from simpul.padan.decisions import direct_matches
    from simpul.padan.training import EM_FALLBACK, _em_blocks

    siak = prepare(
        pd.DataFrame(
            {
                "record_id": ["1608014506900003"],
                "nik": ["1608014506900003"],
                "nama_lengkap": ["SITI AMINAH"],
                "kode_desa": ["1608012001"],
            }
        )
    )
    agency = prepare(
        pd.DataFrame(
            {
                "record_id": ["izin:1", "izin:2", "dinsos:1"],
                "nik": ["1608014506900003", "1608014506900013", "1608014506900013"],
                "nama_lengkap": [None, None, "Siti Aminah"],
                "kode_desa": ["1608012001"] * 3,
            }
        )
    )
    assert agency["tgl_lahir"].tolist() == [None, None, "1990-06-05"]
    assert agency["jk"].tolist() == [None, None, "2"]  # named: from the NIK, as before
    assert direct_matches(agency, siak).tolist() == [True, False, False]
    assert _em_blocks(agency) == [("nik",), ("nama_key", "tgl_lahir")]
    assert _em_blocks(agency.iloc[:2]) == [("nik",)]  # no name anywhere: no empty name block
    dated = agency.iloc[:2].assign(tgl_lahir="1990-06-05")  # an export with birth dates
    assert _em_blocks(dated) == [("nik",), EM_FALLBACK]


def test_vectorised_digits_equal_the_per_value_rule() -> None:
    """The kabupaten-scale column path keeps :func:`digits`'s rule exactly."""
    from simpul.padan.features import digits, digits_column

    values = pd.Series(
        [
            "1608014506900003",
            " 1608 0145 0690 0003",
            "'1608014506900003",
            "0",
            "0000000000000000",
            "160801450690000",
            None,
            float("nan"),
            1608014506900003.0,
            "16080145069000031",
            "",
        ],
        dtype=object,
    )
    assert digits_column(values).tolist() == [digits(v) for v in values]


def test_plain_names_take_the_fast_path_with_the_same_result() -> None:
    """Upper-case words (most registers) skip the regex cleaning; the tokens are the same as
    the general path gives for the same name written with a stray dot."""
    from simpul.padan.names import name_tokens

    for plain in ("SITI AMINAH BINTI ALI", "M RIZKI", "H MUHAMAD SOEKARNO S PD", "A MD BUDI"):
        assert name_tokens(plain) == name_tokens(plain + ".")
