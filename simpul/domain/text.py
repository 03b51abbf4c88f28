"""Cleaning of text as real agency exports deliver it."""

from __future__ import annotations

import re

import pandas as pd

# Zero-width and other format characters, C0/C1 controls, NBSP; real Excel/CSV exports carry them.
_NONPRINTING = re.compile(
    r"[\u0000-\u001f\u007f-\u009f\u00a0\u00ad\u200b-\u200f\u2028-\u202f\u2060\ufeff]"
)
_DIGIT_NOISE = re.compile(r"[\s.\-'`’]")


def clean_text(s: pd.Series) -> pd.Series:
    """Strip non-printing characters and a leading apostrophe, collapse spaces.

    Empty strings and a lone "-" (the usual "nothing" in Indonesian exports) become null.
    """
    s = s.astype("string")
    s = s.str.replace(_NONPRINTING, " ", regex=True)
    s = s.str.strip().str.lstrip("'`’").str.strip()
    s = s.str.replace(r"\s+", " ", regex=True)
    return s.mask(s.isin(["", "-"]), pd.NA)


def clean_digits(s: pd.Series) -> pd.Series:
    """For NIK / no_kk: remove spaces, dots, dashes, apostrophes and non-printing characters.

    A value that arrived as a float ("1608014101900001.0") loses its ".0" first.
    """
    s = s.astype("string")
    s = s.str.replace(_NONPRINTING, "", regex=True)
    s = s.str.replace(r"\.0$", "", regex=True)
    s = s.str.replace(_DIGIT_NOISE, "", regex=True)
    return s.mask(s == "", pd.NA)
