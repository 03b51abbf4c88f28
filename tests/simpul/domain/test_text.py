"""The RE2 cleaning patterns behave exactly like the Python ``re`` ones they replaced."""

from __future__ import annotations

import re

import pandas as pd

from simpul.domain.text import clean_digits, clean_text

_NONPRINTING = re.compile(
    r"[\u0000-\u001f\u007f-\u009f\u00a0\u00ad\u200b-\u200f\u2028-\u202f\u2060\ufeff]"
)


def _text_reference(s: pd.Series) -> pd.Series:
    s = s.astype("string")
    s = s.str.replace(_NONPRINTING, " ", regex=True)
    s = s.str.strip().str.lstrip("'`’").str.strip()
    s = s.str.replace(re.compile(r"\s+"), " ", regex=True)
    return s.mask(s.isin(["", "-"]), pd.NA)


def _digits_reference(s: pd.Series) -> pd.Series:
    s = s.astype("string")
    s = s.str.replace(_NONPRINTING, "", regex=True)
    s = s.str.replace(re.compile(r"\.0$"), "", regex=True)
    s = s.str.replace(re.compile(r"[\s.\-'`’]"), "", regex=True)
    return s.mask(s == "", pd.NA)


def _samples() -> pd.Series:
    values: list[str | None] = [None, "", "-", " - ", "1608.0141.0190.0001.0", "’’x"]
    for code in list(range(0x10000)) + [0x1F600, 0x10FFFF]:
        if 0xD800 <= code < 0xE000:
            continue
        c = chr(code)
        values += [f"a{c}b", f"{c}x {c}", c, f"'{c}12.0", f"12{c}{c}3.0", f" {c}'ab  c{c}"]
        # clean_text's guard (only flagged values are cleaned) at the edges and in runs
        values += [f"x{c}", f"{c}x", f"'{c}x", f"x {c}y", f"x{c} y", f"{c}{c}", f"{c}-", f"-{c}"]
    return pd.Series(values, dtype="string")


def test_clean_text_and_digits_match_python_re_on_every_bmp_character():
    s = _samples()
    for ours, reference in ((clean_text, _text_reference), (clean_digits, _digits_reference)):
        got, want = ours(s).fillna("<NA>"), reference(s).fillna("<NA>")
        differ = s[got != want]
        assert differ.empty, [(v, got[i], want[i]) for i, v in differ.head(5).items()]


def test_examples():
    s = pd.Series(["  'Budi\u00a0\u200b Santoso ", "-", "1608 0141.0190-0001", "16080141019000.0"])
    cleaned = clean_text(s).tolist()
    assert cleaned == ["Budi Santoso", pd.NA, "1608 0141.0190-0001", "16080141019000.0"]
    assert clean_digits(s).tolist()[2:] == ["1608014101900001", "16080141019000"]
