"""The linkage decisions: thresholds, the words a reviewer reads, and the records linked
directly (same NIK, name and birth date; or only a NIK to compare) without scoring."""

from __future__ import annotations

import pandas as pd

AUTO_THRESHOLD = 0.99


REVIEW_THRESHOLD = 0.80


AMBIGUOUS_WORDS = (
    "ada kandidat kedua yang hampir sama kuat: perlu ditinjau",
    "a second candidate is almost as likely: needs review",
)


DIRECT_WORDS = (
    "NIK, nama dan tanggal lahir sama (padan langsung)",
    "same NIK, name and birth date (direct match)",
)


NIK_ONLY_WORDS = (
    "NIK sama; catatan hanya memuat NIK (padan langsung)",
    "same NIK; the record carries only a NIK (direct match)",
)


NO_CANDIDATE_WORDS = ("tidak ada kandidat di SIAK", "no candidate in SIAK")


def _missing(value: float | None) -> bool:
    return value is None or bool(pd.isna(value))


def decide(probability: float | None, runner_up: float | None = None) -> str:
    """tertaut_otomatis >= AUTO_THRESHOLD > tinjau >= REVIEW_THRESHOLD > tidak_cocok; a best
    candidate above AUTO_THRESHOLD goes to review when the runner-up is itself plausible
    (>= REVIEW_THRESHOLD): the model cannot tell the two people apart."""
    if probability is None or _missing(probability):
        return "tidak_cocok"
    if probability >= AUTO_THRESHOLD:
        if runner_up is not None and not _missing(runner_up) and runner_up >= REVIEW_THRESHOLD:
            return "tinjau"
        return "tertaut_otomatis"
    if probability >= REVIEW_THRESHOLD:
        return "tinjau"
    return "tidak_cocok"


def decide_all(probability: pd.Series, runner_up: pd.Series | None = None) -> pd.Series:
    """:func:`decide` over whole columns (same rules, no Python loop per record)."""
    p = pd.to_numeric(probability, errors="coerce")
    r = pd.to_numeric(runner_up, errors="coerce") if runner_up is not None else None
    out = pd.Series("tidak_cocok", index=p.index, dtype=object)
    out[p >= REVIEW_THRESHOLD] = "tinjau"
    auto = p >= AUTO_THRESHOLD
    if r is not None:
        auto &= ~(r >= REVIEW_THRESHOLD)
    out[auto] = "tertaut_otomatis"
    return out


def direct_matches(agency: pd.DataFrame, siak: pd.DataFrame) -> pd.Series:
    """Records whose NIK, normalised name and birth date all equal one SIAK person's: padan
    without scoring (most records), so Splink only scores the rest."""
    ref = siak.dropna(subset=["nik"]).drop_duplicates("nik", keep=False)
    ref = ref.set_index("nik")[["nama_key", "tgl_lahir"]].add_suffix("_s")
    j = agency[["nik", "nama_key", "tgl_lahir"]].join(ref, on="nik")
    same = agency["nik"].notna() & (j["nama_key"] == j["nama_key_s"])
    same &= j["tgl_lahir"] == j["tgl_lahir_s"]
    return (same & j["nama_key"].notna()).fillna(False).astype(bool) | nik_only_matches(agency, ref)


def nik_only_matches(agency: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    """Records with a NIK but no name and no birth date (permit applicants): nothing but the
    NIK to compare, so a NIK that is one SIAK person's is the link; anything else is scored."""
    if ref is None:
        return pd.Series(False, index=agency.index)
    bare = agency["nik"].notna() & agency["nama_key"].isna() & agency["tgl_lahir"].isna()
    return (bare & agency["nik"].isin(ref.index)).fillna(False).astype(bool)
