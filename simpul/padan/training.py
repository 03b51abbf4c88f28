"""Training the linkage model on the data at hand: u by random sampling, m by EM (one session
per selective block), the prior from the sizes; never parameters set by hand. The trained model
is versioned and comes with a report that holds no personal data."""

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

from simpul.padan.comparisons import BLOCKING, new_linker, settings
from simpul.padan.decisions import AUTO_THRESHOLD, REVIEW_THRESHOLD

# EM sessions: each blocks on its fields and trains the other comparisons' m probabilities
# (NIK block: name, birth date, ...; name + birth date block: NIK, KK, village, ...). Name +
# birth date rather than the name alone: as informative for the NIK levels, 1/50 of the pairs.
EM_BLOCKS = (("nik",), ("nama_key", "tgl_lahir"))


# instead of the name block when the agency records carry no name (permit applicants): trains
# the NIK's m on pairs that share the birth date and village
EM_FALLBACK = ("tgl_lahir", "kode_desa")


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
    linker = new_linker(con, agency, siak, settings(prior))
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

    blocks: list[tuple[str, ...]] = [c for c in EM_BLOCKS if has(c)]
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


TRAIN_DIRECT_SAMPLE = 10_000


TRAIN_REST_SAMPLE = 20_000


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
