"""Value conversions of the mapping that work column-wise: dates, timestamps, region-code
groups, and running any conversion once per distinct value (:func:`per_distinct`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def per_distinct(raw: pd.Series, fn: Callable[[pd.Series], Any], memo: Memo | None = None) -> Any:
    """``fn(raw)`` computed on the distinct values of ``raw`` and spread back over its rows.

    Every conversion here is value by value (cleaning, codes, labels, dates), so the result is
    the same; a column of codes, dates or village parts has few distinct values among many
    rows, so each regex and date parse runs a fraction of the times. ``fn`` returns a Series
    or a (Series, Series) pair. Columns with mostly distinct values (names) run directly. A
    ``memo`` carries the results over to the next batch of the same column: a value seen in an
    earlier batch is not converted again.
    """
    remembering = memo is not None and memo.usable
    remembered = remembering and memo is not None and memo.keys is not None
    head = raw.iloc[:10_000]  # (a memo looks at a whole batch once: dates repeat across batches)
    if not remembering and len(raw) > 20_000 and head.nunique() * 2 > len(head):
        return fn(raw)  # names, NIKs: not worth it
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) * 2 > len(raw) and not remembered:
        if memo is not None:  # a column of mostly distinct values: nothing to remember
            memo.usable = False
        return fn(raw)
    if memo is not None and memo.usable:
        taken_at, out = memo.results(uniques, fn, raw.dtype)
    else:
        # the last one stands for null; concatenated, not listed: no Python object per value
        taken_at, out = np.arange(len(uniques) + 1), fn(_with_null(uniques, raw.dtype))
    rows = taken_at[np.where(codes < 0, len(uniques), codes)]

    def spread(s: pd.Series) -> pd.Series:
        taken = s.iloc[rows]
        taken.index = raw.index
        return taken

    return tuple(spread(o) for o in out) if isinstance(out, tuple) else spread(out)


def _with_null(uniques: pd.Index, dtype: Any) -> pd.Series:
    null = pd.Series(pd.array([pd.NA], dtype=dtype))
    return pd.concat([pd.Series(uniques.array, dtype=dtype), null], ignore_index=True)


class Memo:
    """One column's conversions across the batches of a delivery: its distinct values (null
    last of the first batch's) and ``fn``'s results at the same positions. It gives up past
    ``limit`` values (a column of family numbers): memory stays bounded by the batch."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.usable = True
        self.keys: pd.Index | None = None
        self.out: Any = None
        self.null_at = 0

    def results(
        self, uniques: pd.Index, fn: Callable[[pd.Series], Any], dtype: Any
    ) -> tuple[np.ndarray, Any]:
        """Where each of ``uniques`` (then null) stands in the results, and the results."""
        if self.keys is None:
            first = _with_null(uniques, dtype)
            self.keys, self.out, self.null_at = pd.Index(first.array), fn(first), len(uniques)
            return np.arange(len(first)), self.out
        at = self.keys.get_indexer(uniques)
        new = uniques[at < 0]
        if len(new):
            out = fn(pd.Series(new.array, dtype=dtype))
            at[at < 0] = np.arange(len(self.keys), len(self.keys) + len(new))
            self.keys = self.keys.append(pd.Index(new.array))
            self.out = _appended(self.out, out)
        taken_at, out = np.append(at, self.null_at), self.out
        if len(self.keys) > self.limit:  # too many to remember: each batch on its own
            self.usable, self.keys, self.out = False, None, None
        return taken_at, out


def _appended(old: Any, new: Any) -> Any:
    if isinstance(old, tuple):
        return tuple(pd.concat([o, n], ignore_index=True) for o, n in zip(old, new, strict=True))
    return pd.concat([old, new], ignore_index=True)


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
