"""The Fellegi-Sunter linkage (Splink on DuckDB) of agency records to SIAK: direct matches
first, then the trained model (:mod:`simpul.padan.training`) scores the rest and the best
candidate of each record is decided and explained (:mod:`simpul.padan.decisions`,
:mod:`simpul.padan.comparisons`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd

from simpul.padan.comparisons import (
    COMPARED_INPUT,
    LEVELS,
    connect,
    explain_frame,
    gamma_sql,
    new_linker,
)
from simpul.padan.decisions import (
    AMBIGUOUS_WORDS,
    DIRECT_WORDS,
    NIK_ONLY_WORDS,
    NO_CANDIDATE_WORDS,
    decide_all,
    direct_matches,
    nik_only_matches,
)
from simpul.padan.training import Trained, train, training_sample

log = logging.getLogger(__name__)


def predict_best(con: Any, linker: Any, agency: pd.DataFrame, siak: pd.DataFrame) -> pd.DataFrame:
    """Best SIAK candidate per agency record: unique_id, siak_id, probability, weight, gammas."""
    pred = linker.inference.predict(threshold_match_probability=0.001)
    # the runner-up's probability too: two plausible people (a same-named relative whose NIK
    # is as close) must go to a reviewer, never be auto-linked to whichever scored first
    sql = f"""
        SELECT unique_id, siak_id, match_probability, match_weight, runner_up_probability FROM (
            SELECT *, ROW_NUMBER() OVER w AS rn,
                   LEAD(match_probability) OVER w AS runner_up_probability
            FROM (
                SELECT CASE WHEN source_dataset_l = 'a_agency' THEN unique_id_l
                            ELSE unique_id_r END AS unique_id,
                       CASE WHEN source_dataset_l = 'a_agency' THEN unique_id_r
                            ELSE unique_id_l END AS siak_id,
                       match_probability, match_weight
                FROM {pred.physical_name})
            WINDOW w AS (PARTITION BY unique_id ORDER BY match_weight DESC, siak_id)
        ) WHERE rn = 1
    """
    best = con.execute(sql).df()
    return _with_gammas(con, best, agency, siak)


def _with_gammas(
    con: Any, best: pd.DataFrame, agency: pd.DataFrame, siak: pd.DataFrame
) -> pd.DataFrame:
    """Splink 5 returns match weights per comparison, not levels: recompute the levels of the
    best pairs only (cheap), so the explanation names the exact level of each field."""
    fields = sorted({c for n in LEVELS for c in COMPARED_INPUT.get(n, (n,))})
    con.register("padan_best", best)
    con.register("padan_a", agency[["unique_id", *fields]])
    con.register("padan_s", siak[["unique_id", *fields]])
    pairs = ", ".join(f"a.{c} AS {c}_l, s.{c} AS {c}_r" for c in fields)
    gam = ", ".join(gamma_sql(n) for n in LEVELS)
    try:
        return con.execute(
            f"""SELECT unique_id, siak_id, match_probability, match_weight,
                runner_up_probability, {gam} FROM (
                SELECT b.*, {pairs} FROM padan_best b
                JOIN padan_a a ON a.unique_id = b.unique_id
                JOIN padan_s s ON s.unique_id = b.siak_id)"""
        ).df()
    finally:
        for t in ("padan_best", "padan_a", "padan_s"):
            con.unregister(t)


def link(
    agency: pd.DataFrame,
    siak: pd.DataFrame,
    *,
    model: dict[str, Any] | None = None,
    threads: int = 2,
    direct: bool = True,
    timings: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, Trained | None]:
    """Link prepared agency records to prepared SIAK records.

    Direct matches (same NIK, name and birth date) are linked without scoring; the model is
    trained on a sample of the other records plus a sample of direct ones (so EM sees both
    matches and corrupted records) and scores the others. Returns one row per agency record
    (unique_id, siak_id, match_probability, match_weight, keputusan, penjelasan_id,
    penjelasan_en) and the model trained now (None when one was given). ``timings`` receives
    the seconds of each stage.
    """
    clock = _Clock(timings)
    is_direct = direct_matches(agency, siak) if direct else pd.Series(False, index=agency.index)
    rest = agency[~is_direct]
    clock.lap("direct")
    trained = None
    if model is None:
        trained = _train_on_sample(agency, siak, is_direct, threads)
        model = trained.model
        clock.lap("train")
    best = pd.DataFrame(columns=BEST_COLUMNS)
    if len(rest):
        con = connect(threads)
        try:
            best = predict_best(con, new_linker(con, rest, siak, model), rest, siak)
        finally:
            con.close()
    clock.lap("score")
    out = _decided(agency, siak, is_direct, best)
    clock.lap("decide")
    return out, trained


BEST_COLUMNS = [
    "unique_id",
    "siak_id",
    "match_probability",
    "match_weight",
    "runner_up_probability",
]


def _train_on_sample(
    agency: pd.DataFrame, siak: pd.DataFrame, is_direct: pd.Series, threads: int
) -> Trained:
    """A model trained now on a sample of the agency records (:func:`training_sample`)."""
    sample = training_sample(agency, is_direct)
    con = connect(threads)
    try:
        trained, _ = train(con, sample, siak)
    finally:
        con.close()
    trained.report["records_agency_total"] = len(agency)
    trained.report["records_direct"] = int(is_direct.sum())
    return trained


def _decided(
    agency: pd.DataFrame, siak: pd.DataFrame, is_direct: pd.Series, best: pd.DataFrame
) -> pd.DataFrame:
    """One row per agency record: the direct link or best candidate, the decision and its
    explanation in both languages."""
    out = agency[["unique_id"]].merge(best, on="unique_id", how="left")
    d = is_direct.to_numpy()
    out.loc[d, "siak_id"] = agency.loc[is_direct, "nik"].to_numpy()
    out.loc[d, "match_probability"] = 1.0
    out.loc[d, "runner_up_probability"] = None
    out["keputusan"] = decide_all(out["match_probability"], out["runner_up_probability"])
    ambiguous = (out["keputusan"] != decide_all(out["match_probability"])).to_numpy()
    bare = nik_only_matches(agency, siak.dropna(subset=["nik"]).set_index("nik")).to_numpy()
    for col, lang in (("penjelasan_id", 0), ("penjelasan_en", 1)):
        text = pd.Series(NO_CANDIDATE_WORDS[lang], index=out.index, dtype=object)
        scored = out["match_probability"].notna().to_numpy() & ~d
        if scored.any():
            text[scored] = explain_frame(out.loc[scored], lang)
        text[d] = DIRECT_WORDS[lang]
        text[d & bare] = NIK_ONLY_WORDS[lang]
        text[ambiguous] = text[ambiguous] + "; " + AMBIGUOUS_WORDS[lang]
        out[col] = text
    gammas = [c for c in out.columns if c.startswith("gamma_")]
    return out.drop(columns=["runner_up_probability", *gammas])


class _Clock:
    """Seconds per stage of :func:`link`, for the benchmark and the log (no data, only time)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into if into is not None else {}
        self.t = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.into[stage] = round(now - self.t, 2)
        self.t = now
