"""Kemendagri region codes and code lists shipped in ``simpul/reference`` (ODbL, see NOTICE)."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


def _rows(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def province_codes() -> frozenset[str]:
    """Province codes a NIK may start with.

    Only Sumatera Selatan's list ships; the 38 province codes are short and stable, so they are
    listed here (Kemendagri 2025: 11-19, 21, 31-36, 51-53, 61-65, 71-76, 81-82, 91-96).
    """
    codes = {r["code"] for r in _rows("idn_area_sumsel_16_provinces.csv")}
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
    return {r["code"]: r["name"] for r in _rows("idn_area_sumsel_16_villages.csv")}


@lru_cache(maxsize=1)
def districts() -> dict[str, str]:
    return {r["code"]: r["name"] for r in _rows("idn_area_sumsel_16_districts.csv")}


def normalise_name(name: str) -> str:
    """Village-name key: upper case, no 'DESA/KELURAHAN/DUSUN' prefix, no spaces or punctuation.

    "Kota Baru Barat" and "KOTABARU BARAT" meet; DOMAIN.md lists these variants.
    """
    n = name.upper().strip()
    n = re.sub(r"^(DESA|KELURAHAN|KEL\.?|DS\.?)\s+", "", n)
    return re.sub(r"[^A-Z0-9]", "", n)


@lru_cache(maxsize=1)
def code_lists() -> dict[str, dict[str, str]]:
    """Code list name -> {code: label} from siak_reference_codes.csv."""
    out: dict[str, dict[str, str]] = {}
    for r in _rows("siak_reference_codes.csv"):
        out.setdefault(r["list"], {})[r["code"]] = r["label"]
    return out
