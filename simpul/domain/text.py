"""Cleaning of text as real agency exports deliver it.

The patterns are plain strings in RE2 syntax, so pandas runs them in Arrow's vectorised
kernels; a compiled ``re.Pattern`` would make it call Python's ``re.sub`` once per value
(the slowest part of a 650,000-row transform). RE2's ``\\s`` is ASCII only, so the Unicode
whitespace Python's ``\\s`` matches is spelled out; ``tests/simpul/domain/test_text.py`` checks
the two agree on every character of the Basic Multilingual Plane.
"""

from __future__ import annotations

import pandas as pd

# Zero-width and other format characters, C0/C1 controls, NBSP; real Excel/CSV exports carry them.
NONPRINTING = (
    r"[\x{0}-\x{1f}\x{7f}-\x{9f}\x{a0}\x{ad}\x{200b}-\x{200f}\x{2028}-\x{202f}\x{2060}\x{feff}]"
)
# What Python's ``str.isspace`` calls whitespace.
_SPACES = (
    r"\t\n\v\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}"
)
WHITESPACE_RUN = f"[{_SPACES}]+"
DIGIT_NOISE = f"[{_SPACES}.\\-'`’]"
# A value :func:`clean_text` could change: a non-printing character, whitespace or an
# apostrophe at the start, whitespace at the end, whitespace other than one plain space.
_NEEDS_CLEANING = f"{NONPRINTING}|^[{_SPACES}'`’]|[{_SPACES}]$|[{_SPACES.replace(' ', '')}]|  "


def clean_text(s: pd.Series) -> pd.Series:
    """Strip non-printing characters and a leading apostrophe, collapse spaces.

    Empty strings and a lone "-" (the usual "nothing" in Indonesian exports) become null.
    One guard pass finds the values that need it (few, in real exports); the cleaning chain
    runs on those only, every other value is already its own cleaned form.
    """
    s = s.astype("string")
    flagged = s.str.contains(_NEEDS_CLEANING, regex=True).fillna(False).to_numpy(dtype=bool)
    if flagged.any():
        s = s.copy()
        s[flagged] = _clean_chain(s[flagged])
    return s.mask(s.isin(["", "-"]), pd.NA)


def _clean_chain(s: pd.Series) -> pd.Series:
    s = s.str.replace(NONPRINTING, " ", regex=True)
    s = s.str.strip().str.lstrip("'`’").str.strip()
    return s.str.replace(WHITESPACE_RUN, " ", regex=True)


def clean_digits(s: pd.Series) -> pd.Series:
    """For NIK / no_kk: remove spaces, dots, dashes, apostrophes and non-printing characters.

    A value that arrived as a float ("1608014101900001.0") loses its ".0" first.
    """
    s = s.astype("string")
    # one guard pass: plain digits (nearly every NIK) are already their cleaned form
    flagged = ~s.str.fullmatch("[0-9]+").fillna(True).to_numpy(dtype=bool)
    if not flagged.any():
        return s
    s = s.copy()
    s[flagged] = _digits_chain(s[flagged])
    return s


def _digits_chain(s: pd.Series) -> pd.Series:
    s = s.str.replace(NONPRINTING, "", regex=True)
    s = s.str.replace(r"\.0$", "", regex=True)
    s = s.str.replace(DIGIT_NOISE, "", regex=True)
    return s.mask(s == "", pd.NA)
