"""Kemendagri region codes and code lists shipped in ``simpul/reference`` (ODbL, see NOTICE)."""

from __future__ import annotations

import csv
import difflib
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


def reference_rows(name: str) -> list[dict[str, str]]:
    """The rows of one shipped reference CSV (regions, code lists): the one reader of them."""
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def province_codes() -> frozenset[str]:
    """Province codes a NIK may start with.

    Only Sumatera Selatan's list ships; the 38 province codes are short and stable, so they are
    listed here (Kemendagri 2025: 11-19, 21, 31-36, 51-53, 61-65, 71-76, 81-82, 91-96).
    """
    codes = {r["code"] for r in reference_rows("idn_area_sumsel_16_provinces.csv")}
    codes |= {
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
    return frozenset(codes)


@lru_cache(maxsize=1)
def villages() -> dict[str, str]:
    """Village code (dotted, 16.08.01.2006) -> name, for all of Sumatera Selatan."""
    return {r["code"]: r["name"] for r in reference_rows("idn_area_sumsel_16_villages.csv")}


@lru_cache(maxsize=1)
def districts() -> dict[str, str]:
    return {r["code"]: r["name"] for r in reference_rows("idn_area_sumsel_16_districts.csv")}


def normalise_name(name: str) -> str:
    """Village-name key: upper case, no 'DESA/KELURAHAN/DUSUN' prefix, no spaces or punctuation.

    "Kota Baru Barat" and "KOTABARU BARAT" meet; DOMAIN.md lists these variants.
    """
    n = name.upper().strip()
    n = re.sub(r"^(DESA|KELURAHAN|KEL\.?|DS\.?)\s+", "", n)
    return re.sub(r"[^A-Z0-9]", "", n)


# a "DUSUN " prefix is only dropped when the name does not match with it ("Dusun Martapura" is a
# kelurahan's real name)
_DUSUN = re.compile(r"^(DUSUN|DSN\.?)\s*", re.IGNORECASE)
FUZZY_CUTOFF = 0.85


@lru_cache(maxsize=64)
def _village_keys(kecamatan: str) -> dict[str, str]:
    """Normalised name -> code for the villages of one kecamatan (dotted code)."""
    prefix = kecamatan + "."
    return {normalise_name(n): c for c, n in villages().items() if c.startswith(prefix)}


@lru_cache(maxsize=4096)
def match_village(name: str, kecamatan: str) -> str | None:
    """Village code for a name within a kecamatan: exact after normalisation, then fuzzy.

    Fuzzy matching (difflib ratio >= 0.85) must be unambiguous: when the best two candidates
    are nearly as close, nothing is matched, because a wrong village is worse than none.
    """
    keys = _village_keys(kecamatan)
    if not keys or not name or not name.strip():
        return None
    for candidate in (name, _DUSUN.sub("", name.strip())):
        key = normalise_name(candidate)
        if key in keys:
            return keys[key]
    key = normalise_name(name)
    scored = sorted(
        ((difflib.SequenceMatcher(None, key, k).ratio(), k) for k in keys), reverse=True
    )
    if not scored or scored[0][0] < FUZZY_CUTOFF:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < 0.05:
        return None
    return keys[scored[0][1]]


@lru_cache(maxsize=1024)
def match_kecamatan(value: str, kabupaten: str | None = None) -> str | None:
    """Kecamatan code (dotted) from a code ("16.08.01", "160801") or a name within a kabupaten."""
    v = value.strip()
    digits = re.sub(r"\D", "", v)
    if len(digits) == 6 and len(digits) >= len(re.sub(r"[\s.]", "", v)):
        code = f"{digits[:2]}.{digits[2:4]}.{digits[4:]}"
        return code if code in districts() else None
    scope = {
        normalise_name(n): c
        for c, n in districts().items()
        if kabupaten is None or c.startswith(kabupaten + ".")
    }
    key = normalise_name(re.sub(r"(?i)^(KECAMATAN|KEC\.?)\s+", "", v))
    if key in scope:
        return scope[key]
    close = difflib.get_close_matches(key, list(scope), n=2, cutoff=FUZZY_CUTOFF)
    return scope[close[0]] if len(close) == 1 else None


def match_village_names(names: pd.Series, kecamatan: pd.Series | str) -> pd.Series:
    """Vectorised :func:`match_village`: resolved once per distinct (kecamatan, name) pair.

    Returns dotted codes, null where nothing (or nothing unambiguous) matched.
    """
    n = names.astype("string")
    kec = (
        pd.Series(kecamatan, index=names.index, dtype="string")
        if isinstance(kecamatan, str)
        else kecamatan.astype("string")
    )
    key = kec + "\x1f" + n  # null where either part is null
    lookup: dict[str, str | None] = {}
    for k in key.dropna().unique().tolist():
        code, name = k.split("\x1f", 1)
        lookup[k] = match_village(name, code)
    return key.map(lookup).astype("string")


@lru_cache(maxsize=1)
def code_lists() -> dict[str, dict[str, str]]:
    """Code list name -> {code: label} from siak_reference_codes.csv."""
    out: dict[str, dict[str, str]] = {}
    for r in reference_rows("siak_reference_codes.csv"):
        out.setdefault(r["list"], {})[r["code"]] = r["label"]
    return out
