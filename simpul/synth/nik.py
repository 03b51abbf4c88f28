"""Vectorised NIK and Nomor KK construction: ``PP KK CC DDMMYY SSSS``.

Serials are drawn so that (region, date, serial) is unique and never 0000; the generator then
asserts global uniqueness, so clean data never carries an accidental duplicate NIK. Numbers are
built as int64 (16 digits fit) and formatted once, which keeps 650,000 people fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _serials(rng: np.random.Generator, prefix: np.ndarray) -> np.ndarray:
    """Distinct serials 1..9999 within each (int) prefix, random but reproducible."""
    n = len(prefix)
    _, inverse, counts = np.unique(prefix, return_inverse=True, return_counts=True)
    if n and counts.max() > 9999:
        raise ValueError("more than 9,999 people share a NIK prefix")
    order = np.lexsort((rng.random(n), inverse))  # shuffled within each prefix
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[inverse[order]]
    # a random offset per prefix keeps serials opaque while staying in 1..9999
    room = 10_000 - counts  # admissible starting offsets
    start = rng.integers(0, 10_000, len(counts)) % room
    return start[inverse] + rank + 1


def _ddmmyy(dates: np.ndarray, plus: np.ndarray | int = 0) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    return (d.day.to_numpy() + plus) * 10_000 + d.month.to_numpy() * 100 + d.year.to_numpy() % 100


def _format(values: np.ndarray) -> np.ndarray:
    return np.char.zfill(values.astype(np.int64).astype(str), 16).astype(object)


def _build(rng: np.random.Generator, region6: np.ndarray, ddmmyy: np.ndarray) -> np.ndarray:
    region = np.asarray(region6).astype(np.int64)
    prefix = region * 1_000_000 + ddmmyy
    return _format(prefix * 10_000 + _serials(rng, prefix))


def make_nik(
    rng: np.random.Generator, region6: np.ndarray, born: np.ndarray, female: np.ndarray
) -> np.ndarray:
    """NIKs from 6-digit region codes (str), birth dates (datetime64[D]) and sex (bool)."""
    return _build(rng, region6, _ddmmyy(born, np.where(female, 40, 0)))


def make_no_kk(rng: np.random.Generator, region6: np.ndarray, issued: np.ndarray) -> np.ndarray:
    """Nomor KK: issuing region, issue date DDMMYY (no +40), serial."""
    return _build(rng, region6, _ddmmyy(issued))


def digits(code: str) -> str:
    """'16.08.01' -> '160801'."""
    return code.replace(".", "")
