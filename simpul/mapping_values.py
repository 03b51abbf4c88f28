"""Value conversions of the mapping that work column-wise: dates, timestamps, region-code
groups, and running any conversion once per distinct value (:func:`per_distinct`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def per_distinct(raw: pd.Series, fn: Callable[[pd.Series], Any]) -> Any:
    """``fn(raw)`` computed on the distinct values of ``raw`` and spread back over its rows.

    Every conversion here is value by value (cleaning, codes, labels, dates), so the result is
    the same; a column of codes, dates or village parts has few distinct values among many
    rows, so each regex and date parse runs a fraction of the times. ``fn`` returns a Series
    or a (Series, Series) pair. Columns with mostly distinct values (names) run directly.
    """
    head = raw.iloc[:10_000]
    if len(raw) > 20_000 and head.nunique() * 2 > len(head):  # names, NIKs: not worth it
        return fn(raw)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) * 2 > len(raw):
        return fn(raw)
    # the last one stands for null; concatenated, not listed: no Python object per value
    null = pd.Series(pd.array([pd.NA], dtype=raw.dtype))
    distinct = pd.concat([pd.Series(uniques.array, dtype=raw.dtype), null], ignore_index=True)
    codes = np.where(codes < 0, len(uniques), codes)
    out = fn(distinct)

    def spread(s: pd.Series) -> pd.Series:
        taken = s.iloc[codes]
        taken.index = raw.index
        return taken

    return tuple(spread(o) for o in out) if isinstance(out, tuple) else spread(out)


def dot_groups(m: re.Match[str]) -> str:
    """A region code's digit groups joined by dots (16 08 01 2006 -> 16.08.01.2006)."""
    return ".".join(g for g in m.groups() if g)


def parse_dates(s: pd.Series, formats: list[str], excel_serial: bool) -> pd.Series:
    """Try each format in order; Excel serials ('34703', '34703.0') count days from 1899-12-30."""
    result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = result.isna() & s.notna()
        if not todo.any():
            break
        result[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    if excel_serial:
        todo = result.isna() & s.notna()
        cand = s[todo]
        serial = cand[cand.str.fullmatch(r"\d{4,5}(\.0+)?").fillna(False).astype(bool)]
        days = pd.to_numeric(serial, errors="coerce")
        result[serial.index] = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")
    return result.dt.date.astype("object").where(result.notna(), None)


def parse_timestamps(s: pd.Series, formats: list[str], excel_serial: bool) -> pd.Series:
    """ISO 8601 first, then each format, then (``excel_serial``) Excel serial day numbers with
    a fraction for the time of day ('46316.5' = 2026-10-21 12:00), all as UTC timestamps."""
    result = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
    for fmt in formats:
        todo = result.isna() & s.notna()
        if not todo.any():
            break
        result[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce", utc=True)
    if excel_serial:
        todo = result.isna() & s.notna()
        cand = s[todo]
        serial = cand[cand.str.fullmatch(r"\d{4,5}(\.\d+)?").fillna(False).astype(bool)]
        days = pd.to_numeric(serial, errors="coerce")
        result[serial.index] = (
            pd.Timestamp("1899-12-30", tz="UTC") + pd.to_timedelta(days, unit="D")
        ).dt.round("s")
    return result
