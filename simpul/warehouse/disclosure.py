"""Disclosure control on what analysts see: k-anonymous person-level marts, suppressed small cells.

A pseudonym hides the NIK, but a combination such as desa + sex + birth year + job can still
single a person out (issue 13 measured 58 % of ``marts.penduduk`` unique on its quasi-
identifiers). Before the analyst database is published:

* person-level tables are made **k-anonymous** (k = ``K``, default 5) on their declared
  quasi-identifiers (:data:`QUASI_IDENTIFIERS`): birth year and dusun are dropped (age band and
  desa remain), then, only for the records in classes smaller than k, values are generalised
  step by step (job, then the other attributes, then the five-year age band to a wider band,
  then the desa) and a record still in a class smaller than k is suppressed (left out);
* aggregate tables get the same small-cell suppression as the open-data channel
  (:func:`suppress_small_cells`: counts 1..k-1 masked, plus a
  complementary cell per desa and month so that totals cannot undo it).

:func:`small_class_share` measures the result: the share of records in classes smaller than k
(0 after :func:`k_anonymise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:  # pandas only for annotations: the exchange DAG file parses without it
    import pandas as pd

K = 5
SUPPRESSED = "disamarkan"  # a generalised-away value, as the open-data channel names it
SUPPRESSED_FLAG = "disamarkan"  # added next to a suppressed measure: true = value masked

# Declared quasi-identifiers per person-level table (what a neighbour may know of a person).
QUASI_IDENTIFIERS: dict[str, list[str]] = {
    "penduduk": [
        "kode_desa", "jenis_kelamin", "kelompok_umur", "pekerjaan", "pendidikan", "agama",
        "status_perkawinan", "shdk",
    ],
    "rekonsiliasi": ["kode_desa", "temuan", "kolom", "sumber"],
}  # fmt: skip
# Columns removed from person-level tables: finer than the declared quasi-identifiers.
DROPPED: dict[str, list[str]] = {"penduduk": ["tahun_lahir", "dusun"]}
# Generalisation ladder: each step widens these columns for the records still in small classes.
LADDER: dict[str, list[list[str]]] = {
    "penduduk": [
        ["pekerjaan"],
        ["pendidikan", "status_perkawinan", "shdk"],
        ["agama"],
        ["kelompok_umur"],
        ["kode_desa"],
    ],
    "rekonsiliasi": [["kolom", "sumber"], ["kode_desa"]],
}
# Aggregates: count column and the groups for complementary suppression.
MEASURES: dict[str, tuple[str, list[str]]] = {
    "penduduk_bulanan": ("jumlah", ["akhir_bulan", "kode_desa"]),
    "peristiwa_bulanan": ("jumlah", ["bulan", "kode_desa"]),
    "izin_kbli": ("jumlah", ["kode_desa"]),
    "paten_waktu_layanan": ("selesai", []),
}
# Statistics that would reveal a masked count's people (a median of two cases).
MASKED_WITH: dict[str, list[str]] = {"paten_waktu_layanan": ["median_hari", "p90_hari"]}


def _wide_band(label: object) -> object:
    """Five-year band to a life stage: 0-14, 15-29, 30-44, 45-59, 60+."""
    if not isinstance(label, str) or "-" not in label and not label.endswith("+"):
        return label
    low = int(label.rstrip("+").split("-")[0])
    if low >= 60:
        return "60+"
    start = low // 15 * 15
    return f"{start}-{start + 14}"


def _class_sizes(df: pd.DataFrame, qi: list[str]) -> pd.Series:
    return df.groupby(qi, dropna=False, sort=False)[qi[0]].transform("size")


def small_class_share(df: pd.DataFrame, qi: list[str], k: int = K) -> float:
    """Share of records whose quasi-identifier combination is shared by fewer than k records."""
    if df.empty:
        return 0.0
    keyed = df[qi].astype(object).where(df[qi].notna(), "\0null")
    return float((_class_sizes(keyed, qi) < k).mean())


def k_anonymise(df: pd.DataFrame, table: str, k: int = K) -> tuple[pd.DataFrame, dict[str, int]]:
    """The table with every quasi-identifier class of at least ``k`` records; returns it and
    how many records each step touched (generalised per step, ``suppressed`` at the end)."""
    qi = [c for c in QUASI_IDENTIFIERS[table] if c in df.columns]
    out = df.drop(columns=[c for c in DROPPED.get(table, []) if c in df.columns]).copy()
    stats: dict[str, int] = {}
    if out.empty or not qi:
        return out, stats
    for c in qi:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    for step in LADDER[table]:
        sizes = _class_sizes(out.fillna({c: "\0null" for c in qi}), qi)
        small = sizes < k
        if not small.any():
            break
        for c in step:
            if c not in out.columns:
                continue
            if c == "kelompok_umur":
                out.loc[small, c] = out.loc[small, c].map(_wide_band)
                if "umur_min" in out.columns:
                    out.loc[small, "umur_min"] = None
            else:
                out.loc[small, c] = SUPPRESSED
                if c == "kode_desa" and "nama_desa" in out.columns:
                    out.loc[small, "nama_desa"] = SUPPRESSED
        stats["+".join(step)] = int(small.sum())
    sizes = _class_sizes(out.fillna({c: "\0null" for c in qi}), qi)
    keep = sizes >= k
    stats["suppressed"] = int((~keep).sum())
    return out[keep].reset_index(drop=True), stats


def needs_protection(name: str) -> bool:
    return name in QUASI_IDENTIFIERS or name in MEASURES


def protect(name: str, table: pa.Table, k: int = K) -> tuple[pa.Table, dict[str, int]]:
    """Disclosure control for one published marts table (unchanged if it needs none)."""
    if name in QUASI_IDENTIFIERS:
        df, stats = k_anonymise(table.to_pandas(), name, k)
        schema = pa.schema([f for f in table.schema if f.name in df.columns])
        if "umur_min" in df.columns:
            df["umur_min"] = df["umur_min"].astype("Int64")
        return pa.Table.from_pandas(df, schema=schema, preserve_index=False), stats
    if name in MEASURES:
        measure, group = MEASURES[name]
        if measure not in table.column_names:
            return table, {}
        table = table.set_column(
            table.schema.get_field_index(measure), measure, table.column(measure).cast(pa.int64())
        )
        group = [c for c in group if c in table.column_names]
        out = suppress_small_cells(table, measure, k, group or None)
        masked = out.column("disamarkan")
        for col in MASKED_WITH.get(name, []):
            if col in out.column_names:
                values = [
                    None if m else v
                    for v, m in zip(out.column(col).to_pylist(), masked.to_pylist(), strict=True)
                ]
                i = out.schema.get_field_index(col)
                out = out.set_column(i, col, pa.array(values, out.schema.field(col).type))
        return out, {"masked_cells": sum(masked.to_pylist())}
    return table, {}


def suppress_small_cells(
    table: pa.Table, measure: str, threshold: int, group_by: Sequence[str] | None = None
) -> pa.Table:
    """Mask counts below ``threshold`` (value null, ``disamarkan`` true).

    Primary suppression alone can be undone by subtraction when a group total is public
    (e.g. a village's population), so when a group (``group_by``) has exactly one masked cell
    the smallest other non-zero cell of that group is masked too (complementary suppression).
    Zero counts are not masked: an empty cell discloses no one.
    """
    values = table.column(measure).to_pylist()
    masked = [v is not None and 0 < v < threshold for v in values]
    if group_by:
        keys = (
            [tuple(r) for r in zip(*(table.column(c).to_pylist() for c in group_by), strict=True)]
            if group_by
            else []
        )
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        for idx in groups.values():
            if sum(masked[i] for i in idx) == 1:
                rest = [i for i in idx if not masked[i] and values[i]]
                if rest:
                    masked[min(rest, key=lambda i: (values[i], i))] = True
    new_values = pa.array(
        [None if m else v for v, m in zip(values, masked, strict=True)], pa.int64()
    )
    i = table.schema.get_field_index(measure)
    table = table.set_column(i, measure, new_values)
    return table.append_column(SUPPRESSED_FLAG, pa.array(masked, pa.bool_()))
