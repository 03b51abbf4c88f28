"""The Fellegi-Sunter linkage model (Splink on DuckDB): comparisons, blocking, EM training.

Why these comparisons: NIK errors are single-digit typos, adjacent transpositions and Excel's
zeroed 16th digit (Hamming 1 / Damerau 1); birth dates get day and month swapped; names vary in
spelling. Parameters (m by EM, u by random sampling) come from the data at hand, never by hand.
Blocking rules each use a selective key so the candidate pairs grow ~linearly with the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

AUTO_THRESHOLD = 0.99
REVIEW_THRESHOLD = 0.80

# Non-null levels, best first: (sql, label, Bahasa Indonesia, English). Columns as Splink writes
# them: x_l / x_r. The order fixes Splink's gamma values (best = highest).
LEVELS: dict[str, list[tuple[str, str, str, str]]] = {
    "nama": [
        ("nama_key_l = nama_key_r", "exact", "nama sama", "same name"),
        (
            "jaro_winkler_similarity(nama_l, nama_r) >= 0.95",
            "jw95",
            "nama hampir sama",
            "name almost the same",
        ),
        ("jaro_winkler_similarity(nama_l, nama_r) >= 0.88", "jw88", "nama mirip", "similar name"),
        (
            "jaro_winkler_similarity(nama_l, nama_r) >= 0.75",
            "jw75",
            "nama agak mirip",
            "somewhat similar name",
        ),
        ("TRUE", "else", "nama berbeda", "different name"),
    ],
    "tgl_lahir": [
        ("tgl_lahir_l = tgl_lahir_r", "exact", "tanggal lahir sama", "same birth date"),
        (
            "substr(tgl_lahir_l, 1, 4) = substr(tgl_lahir_r, 1, 4) AND "
            "substr(tgl_lahir_l, 6, 2) = substr(tgl_lahir_r, 9, 2) AND "
            "substr(tgl_lahir_l, 9, 2) = substr(tgl_lahir_r, 6, 2)",
            "swap",
            "tanggal dan bulan lahir tertukar",
            "birth day and month swapped",
        ),
        (
            "levenshtein(tgl_lahir_l, tgl_lahir_r) = 1",
            "typo",
            "tanggal lahir beda satu angka",
            "birth date differs by one digit",
        ),
        (
            "substr(tgl_lahir_l, 1, 4) = substr(tgl_lahir_r, 1, 4)",
            "year",
            "hanya tahun lahir sama",
            "only birth year the same",
        ),
        ("TRUE", "else", "tanggal lahir berbeda", "different birth date"),
    ],
    "jk": [
        ("jk_l = jk_r", "exact", "jenis kelamin sama", "same sex"),
        ("TRUE", "else", "jenis kelamin berbeda", "different sex"),
    ],
    "nik": [
        ("nik_l = nik_r", "exact", "NIK sama", "same NIK"),
        ("hamming(nik_l, nik_r) = 1", "ham1", "NIK beda satu angka", "NIK differs in one digit"),
        (
            "damerau_levenshtein(nik_l, nik_r) = 1",
            "transp",
            "dua angka NIK tertukar",
            "two NIK digits transposed",
        ),
        ("hamming(nik_l, nik_r) = 2", "ham2", "NIK beda dua angka", "NIK differs in two digits"),
        ("TRUE", "else", "NIK berbeda", "different NIK"),
    ],
    "kk": [
        ("kk_l = kk_r", "exact", "nomor KK sama", "same family card"),
        (
            "hamming(kk_l, kk_r) = 1",
            "ham1",
            "nomor KK beda satu angka",
            "family card differs in one digit",
        ),
        ("TRUE", "else", "nomor KK berbeda", "different family card"),
    ],
    "kode_desa": [
        ("kode_desa_l = kode_desa_r", "exact", "desa sama", "same village"),
        (
            "substr(kode_desa_l, 1, 6) = substr(kode_desa_r, 1, 6)",
            "kec",
            "desa lain di kecamatan yang sama",
            "another village, same kecamatan",
        ),
        ("TRUE", "else", "desa berbeda", "different village"),
    ],
    "alamat": [
        (
            "jaro_winkler_similarity(alamat_l, alamat_r) >= 0.92",
            "jw92",
            "alamat mirip",
            "similar address",
        ),
        ("TRUE", "else", "alamat berbeda", "different address"),
    ],
}
NULL_WORDS = ("tidak ada di salah satu data", "missing on one side")
COMPARED_INPUT = {"nama": ("nama", "nama_key")}
# Each rule pairs a record with few SIAK people (kabupaten: ~1.7M pairs for 160k records to
# score, against 7.7M with a bare birth-date rule). A record keeps a rule whatever one or two
# defects it has: a NIK typo keeps the region+serial or the date part (nik_tgl), a missing
# NIK keeps the KK or name+village, a move keeps name+birth date.
BLOCKING = (
    ("nik",),
    ("nik_reg_ser",),
    ("kk",),
    ("nama_key", "kode_desa"),
    ("nama_key", "tgl_lahir"),
    ("tgl_lahir", "kode_kec"),
    ("nik_tgl", "kode_kec"),
)
# EM sessions: each blocks on its fields and trains the other comparisons' m probabilities
# (NIK block: name, birth date, ...; name + birth date block: NIK, KK, village, ...). Name +
# birth date rather than the name alone: as informative for the NIK levels, 1/50 of the pairs.
EM_BLOCKS = (("nik",), ("nama_key", "tgl_lahir"))
# instead of the name block when the agency records carry no name (permit applicants): trains
# the NIK's m on pairs that share the birth date and village
EM_FALLBACK = ("tgl_lahir", "kode_desa")


def _comparison(name: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    cols = COMPARED_INPUT.get(name, (name,))
    null = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
    levels: list[Any] = [cll.CustomLevel(null, "null").configure(is_null_level=True)]
    for sql, label, _, _ in LEVELS[name]:
        levels.append(cll.ElseLevel() if sql == "TRUE" else cll.CustomLevel(sql, label))
    return cl.CustomComparison(levels, output_column_name=name, comparison_description=name)


def settings(prior: float) -> Any:
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        probability_two_random_records_match=prior,
        comparisons=[_comparison(n) for n in LEVELS],
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in BLOCKING],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


@dataclass
class Trained:
    """A trained model: Splink's JSON, a version and a report with no personal data."""

    model: dict[str, Any]
    version: str
    report: dict[str, Any]

    def save(self, root: Path) -> Path:
        d = root / self.version
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.json").write_text(json.dumps(self.model, indent=2, default=str))
        (d / "training_report.json").write_text(json.dumps(self.report, indent=2, default=str))
        return d


def _linker(con: Any, agency: pd.DataFrame, siak: pd.DataFrame, model: Any) -> Any:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI(con)
    a = db.register(agency, dataset_display_name="a_agency")
    s = db.register(siak, dataset_display_name="b_siak")
    return Linker([a, s], model, log_level=logging.ERROR)


def connect(threads: int = 2, memory_limit: str = "3GB") -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _em_underflow_guard() -> None:
    """Splink 5.0.0's EM can compute an m or u of exactly 0.0 for a level no pair in the
    blocked sample shows, then rejects that value (ValueError below 1e-300). Clamp the looked-up
    values to a tiny positive number before Splink stores them (idempotent)."""
    import splink.internals.expectation_maximisation as em

    if getattr(em.populate_m_u_from_lookup, "_simpul_guard", False):
        return
    original = em.populate_m_u_from_lookup

    def guarded(training_fixed_probabilities, comparison_level, output_column_name, lookup):
        for levels in lookup.values():
            for rec in levels.values():
                for k in ("m_probability", "u_probability"):
                    v = rec.get(k)
                    if isinstance(v, float) and v < 1e-12:
                        rec[k] = 1e-12
        return original(training_fixed_probabilities, comparison_level, output_column_name, lookup)

    guarded._simpul_guard = True  # type: ignore[attr-defined]
    em.populate_m_u_from_lookup = guarded


def train(
    con: Any, agency: pd.DataFrame, siak: pd.DataFrame, seed: int = 42
) -> tuple[Trained, Any]:
    """EM-train the model on this data (u by random sampling, m by EM, prior from sizes)."""
    from splink import block_on

    _em_underflow_guard()
    started = time.monotonic()
    # each agency record has at most one true SIAK person: the prior is about 1 / |SIAK|
    prior = min(len(agency), len(siak)) / max(1, len(agency) * len(siak))
    linker = _linker(con, agency, siak, settings(prior))
    max_pairs = min(U_MAX_PAIRS, max(1e5, 20.0 * len(siak)))
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    u_seconds = time.monotonic() - started
    em_blocks = _em_blocks(agency)
    for cols in em_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*cols), estimate_without_term_frequencies=True
        )
    model = _floor_m(linker.misc.save_model_to_json())
    linker = _linker_again(con, linker, model)
    digest = hashlib.sha256(json.dumps(model, sort_keys=True, default=str).encode()).hexdigest()
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest[:8]}"
    report = {
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(),
        "splink": _splink_version(),
        "records_agency": len(agency),
        "records_siak": len(siak),
        "prior_probability_two_random_records_match": prior,
        "u_sampling_max_pairs": max_pairs,
        "em_blocking_rules": [list(c) for c in em_blocks],
        "prediction_blocking_rules": [list(c) for c in BLOCKING],
        "thresholds": {"auto": AUTO_THRESHOLD, "review": REVIEW_THRESHOLD},
        "m_probability_floor": M_FLOOR,
        "parameters": _parameters(model),
        "seconds_u_sampling": round(u_seconds, 2),
        "seconds": round(time.monotonic() - started, 2),
    }
    return Trained(model, version, report), linker


M_FLOOR = 1e-4
#: random pairs u is estimated from (Splink recommends 1e6-1e7; more costs ~7 s per 1e6 pairs
#: on two cores and moves no decision)
U_MAX_PAIRS = 2e6


def _em_blocks(agency: pd.DataFrame) -> list[tuple[str, ...]]:
    """The EM sessions this data can support: a block on a column no agency record has (no
    names on permit applications) yields no pairs and Splink refuses it, so the fallback
    block trains the fields the missing one would have."""

    def has(cols: tuple[str, ...]) -> bool:
        return bool(agency[list(cols)].notna().all(axis=1).any())

    blocks = [c for c in EM_BLOCKS if has(c)]
    if len(blocks) < len(EM_BLOCKS) and has(EM_FALLBACK):
        blocks.append(EM_FALLBACK)
    return blocks


def _floor_m(model: dict[str, Any]) -> dict[str, Any]:
    """EM drives m to ~0 for disagreements it never saw among matches (a clean family card
    always agrees in a small sample); a floor keeps one unseen disagreement from vetoing an
    otherwise certain match. The floor is recorded in the training report."""
    for comp in model.get("comparisons", []):
        for lv in comp.get("comparison_levels", []):
            m = lv.get("m_probability")
            if m is not None and m < M_FLOOR:
                lv["m_probability"] = M_FLOOR
    return model


def _linker_again(con: Any, linker: Any, model: dict[str, Any]) -> Any:
    """The trained linker with the floored parameters (same registered tables)."""
    from splink import Linker

    return Linker(
        [linker._input_tables_dict[k] for k in linker._input_tables_dict],
        model,
        log_level=logging.ERROR,
    )


def _splink_version() -> str:
    import splink

    return splink.__version__


def _parameters(model: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """m and u per comparison level: what EM learned (the training report's core)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for comp in model.get("comparisons", []):
        out[comp.get("output_column_name")] = [
            {
                "level": lv.get("label_for_charts"),
                "m": lv.get("m_probability"),
                "u": lv.get("u_probability"),
            }
            for lv in comp.get("comparison_levels", [])
            if not lv.get("is_null_level")
        ]
    return out


def words(name: str, gamma: int | None) -> tuple[str, str]:
    """(Bahasa Indonesia, English) for one comparison's level."""
    if gamma is None or gamma < 0:
        return f"{name}: {NULL_WORDS[0]}", f"{name}: {NULL_WORDS[1]}"
    levels = LEVELS[name]
    _, _, id_, en = levels[len(levels) - 1 - int(gamma)]
    return id_, en


def explain(gammas: dict[str, int | None]) -> tuple[str, str]:
    parts = [words(n, gammas.get(n)) for n in LEVELS]
    return "; ".join(p[0] for p in parts), "; ".join(p[1] for p in parts)


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


def _gamma_sql(name: str) -> str:
    """The comparison's level as Splink numbers it (-1 null, 0 else ... best highest)."""
    cols = COMPARED_INPUT.get(name, (name,))
    null = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
    levels = LEVELS[name]
    whens = [f"WHEN {null} THEN -1"]
    whens += [f"WHEN {sql} THEN {len(levels) - 1 - i}" for i, (sql, *_) in enumerate(levels)]
    return f"CASE {' '.join(whens)} END AS gamma_{name}"


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
    gam = ", ".join(_gamma_sql(n) for n in LEVELS)
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


AMBIGUOUS_WORDS = (
    "ada kandidat kedua yang hampir sama kuat: perlu ditinjau",
    "a second candidate is almost as likely: needs review",
)


def _missing(value: float | None) -> bool:
    return value is None or bool(pd.isna(value))


def decide(probability: float | None, runner_up: float | None = None) -> str:
    """tertaut_otomatis >= AUTO_THRESHOLD > tinjau >= REVIEW_THRESHOLD > tidak_cocok; a best
    candidate above AUTO_THRESHOLD goes to review when the runner-up is itself plausible
    (>= REVIEW_THRESHOLD): the model cannot tell the two people apart."""
    if _missing(probability):
        return "tidak_cocok"
    if probability >= AUTO_THRESHOLD:
        if not _missing(runner_up) and runner_up >= REVIEW_THRESHOLD:
            return "tinjau"
        return "tertaut_otomatis"
    if probability >= REVIEW_THRESHOLD:
        return "tinjau"
    return "tidak_cocok"


DIRECT_WORDS = (
    "NIK, nama dan tanggal lahir sama (padan langsung)",
    "same NIK, name and birth date (direct match)",
)
TRAIN_DIRECT_SAMPLE = 10_000


def direct_matches(agency: pd.DataFrame, siak: pd.DataFrame) -> pd.Series:
    """Records whose NIK, normalised name and birth date all equal one SIAK person's: padan
    without scoring (most records), so Splink only scores the rest."""
    ref = siak.dropna(subset=["nik"]).drop_duplicates("nik", keep=False)
    ref = ref.set_index("nik")[["nama_key", "tgl_lahir"]].add_suffix("_s")
    j = agency[["nik", "nama_key", "tgl_lahir"]].join(ref, on="nik")
    same = agency["nik"].notna() & (j["nama_key"] == j["nama_key_s"])
    same &= j["tgl_lahir"] == j["tgl_lahir_s"]
    return (same & j["nama_key"].notna()).fillna(False).astype(bool) | nik_only_matches(agency, ref)


NIK_ONLY_WORDS = (
    "NIK sama; catatan hanya memuat NIK (padan langsung)",
    "same NIK; the record carries only a NIK (direct match)",
)


def nik_only_matches(agency: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    """Records with a NIK but no name and no birth date (permit applicants): nothing but the
    NIK to compare, so a NIK that is one SIAK person's is the link; anything else is scored."""
    if ref is None:
        return pd.Series(False, index=agency.index)
    bare = agency["nik"].notna() & agency["nama_key"].isna() & agency["tgl_lahir"].isna()
    return (bare & agency["nik"].isin(ref.index)).fillna(False).astype(bool)


TRAIN_REST_SAMPLE = 20_000
NO_CANDIDATE_WORDS = ("tidak ada kandidat di SIAK", "no candidate in SIAK")


def training_sample(agency: pd.DataFrame, is_direct: pd.Series, seed: int = 0) -> pd.DataFrame:
    """The agency records EM trains on: up to ``TRAIN_REST_SAMPLE`` of the records that need
    scoring plus up to ``TRAIN_DIRECT_SAMPLE`` direct matches, drawn at random. Why a sample:
    u comes from random pairs and m from the blocked pairs of a sample (as Splink recommends);
    the parameters settle long before every record of a kabupaten is seen, and EM over every
    name-blocked pair of 650,000 people costs minutes for nothing."""
    rest, direct = agency[~is_direct], agency[is_direct]
    if len(rest) > TRAIN_REST_SAMPLE:
        rest = rest.sample(TRAIN_REST_SAMPLE, random_state=seed)
    if len(direct) > TRAIN_DIRECT_SAMPLE:
        direct = direct.sample(TRAIN_DIRECT_SAMPLE, random_state=seed)
    return pd.concat([rest, direct])


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
        sample = training_sample(agency, is_direct)
        con = connect(threads)
        try:
            trained, _ = train(con, sample, siak)
        finally:
            con.close()
        trained.report["records_agency_total"] = len(agency)
        trained.report["records_direct"] = int(is_direct.sum())
        model = trained.model
        clock.lap("train")
    best = pd.DataFrame(
        columns=[
            "unique_id",
            "siak_id",
            "match_probability",
            "match_weight",
            "runner_up_probability",
        ]
    )
    if len(rest):
        con = connect(threads)
        try:
            best = predict_best(con, _linker(con, rest, siak, model), rest, siak)
        finally:
            con.close()
    clock.lap("score")
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
    out = out.drop(columns=["runner_up_probability", *gammas])
    clock.lap("decide")
    return out, trained


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


def explain_frame(rows: pd.DataFrame, lang: int) -> pd.Series:
    """:func:`explain` for many rows at once, from their ``gamma_<field>`` columns."""
    parts = []
    for n in LEVELS:
        g = pd.to_numeric(rows[f"gamma_{n}"], errors="coerce").fillna(-1).astype(int)
        table = {v: words(n, v)[lang] for v in range(-1, len(LEVELS[n]))}
        parts.append(g.map(table))
    return parts[0].str.cat(parts[1:], sep="; ")


class _Clock:
    """Seconds per stage of :func:`link`, for the benchmark and the log (no data, only time)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into if into is not None else {}
        self.t = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.into[stage] = round(now - self.t, 2)
        self.t = now
