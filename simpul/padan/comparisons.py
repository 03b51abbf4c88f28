"""What the linkage model compares, how it blocks and how a pair's levels are worded.

Why these comparisons: NIK errors are single-digit typos, adjacent transpositions and Excel's
zeroed 16th digit (Hamming 1 / Damerau 1); birth dates get day and month swapped; names vary in
spelling. Blocking rules each use a selective key so the candidate pairs grow ~linearly with the
data.

Each comparison's non-null levels, best first, are data (``levels.csv``: the SQL over Splink's
``x_l`` / ``x_r`` columns, a label, Bahasa Indonesia, English): the order fixes Splink's gamma
values (best = highest), and a reviewer reads the same words the model's levels carry.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import pandas as pd

LEVELS_CSV = Path(__file__).with_name("levels.csv")


def _load_levels() -> dict[str, list[tuple[str, str, str, str]]]:
    """comparison -> [(sql, label, Bahasa Indonesia, English)], in the file's order."""
    levels: dict[str, list[tuple[str, str, str, str]]] = {}
    with LEVELS_CSV.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            level = (row["sql"], row["label"], row["id"], row["en"])
            levels.setdefault(row["comparison"], []).append(level)
    return levels


# Non-null levels, best first: (sql, label, Bahasa Indonesia, English). Columns as Splink writes
# them: x_l / x_r. The order fixes Splink's gamma values (best = highest).
LEVELS: dict[str, list[tuple[str, str, str, str]]] = _load_levels()

NULL_WORDS = ("tidak ada di salah satu data", "missing on one side")
COMPARED_INPUT = {"nama": ("nama", "nama_key")}


def words(name: str, gamma: int | None) -> tuple[str, str]:
    """(Bahasa Indonesia, English) for one comparison's level."""
    if gamma is None or gamma < 0:
        return f"{name}: {NULL_WORDS[0]}", f"{name}: {NULL_WORDS[1]}"
    levels = LEVELS[name]
    _, _, id_, en = levels[len(levels) - 1 - int(gamma)]
    return id_, en


def explain(gammas: dict[str, int | None]) -> tuple[str, str]:
    """(Bahasa Indonesia, English) for a pair: every comparison's level, in order."""
    parts = [words(n, gammas.get(n)) for n in LEVELS]
    return "; ".join(p[0] for p in parts), "; ".join(p[1] for p in parts)


def explain_frame(rows: pd.DataFrame, lang: int) -> pd.Series:
    """:func:`explain` for many rows at once, from their ``gamma_<field>`` columns."""
    parts = []
    for n in LEVELS:
        g = pd.to_numeric(rows[f"gamma_{n}"], errors="coerce").fillna(-1).astype(int)
        table = {v: words(n, v)[lang] for v in range(-1, len(LEVELS[n]))}
        parts.append(g.map(table))
    return parts[0].str.cat(parts[1:], sep="; ")


def null_condition(name: str) -> str:
    """SQL true when either side lacks an input of comparison ``name`` (its null level)."""
    cols = COMPARED_INPUT.get(name, (name,))
    return " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)


def gamma_sql(name: str) -> str:
    """The comparison's level as Splink numbers it (-1 null, 0 else ... best highest)."""
    levels = LEVELS[name]
    whens = [f"WHEN {null_condition(name)} THEN -1"]
    whens += [f"WHEN {sql} THEN {len(levels) - 1 - i}" for i, (sql, *_) in enumerate(levels)]
    return f"CASE {' '.join(whens)} END AS gamma_{name}"


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


def _comparison(name: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    null = cll.CustomLevel(null_condition(name), "null").configure(is_null_level=True)
    levels: list[Any] = [null]
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


def new_linker(con: Any, agency: pd.DataFrame, siak: pd.DataFrame, model: Any) -> Any:
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
