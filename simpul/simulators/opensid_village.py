"""How a village's own register differs from Disdukcapil's: residents it lacks, households
it keeps in another RT, deaths it never recorded, and desa that keep no RW. Each difference is
ground truth the hub's village-vs-SIAK comparison should find."""

from __future__ import annotations

import random

import pyarrow as pa

from simpul.synth.world import PENDUDUK_SCHEMA


def village_differences(
    r: random.Random, clean: pa.Table, diff: float, no_rw: bool
) -> tuple[pa.Table, list[tuple[int | None, dict]]]:
    """Drop / alter a few residents (about ``diff`` of them) as a village's own register
    would; returns the village's table and per-row truth (row None: missing)."""
    recs = clean.to_pylist()
    n = len(recs)
    if not diff or n < 2:
        return clean, []
    missing = set(r.sample(range(n), min(n - 1, max(1, round(n * diff)))))
    notes: list[tuple[int | None, dict]] = [
        (
            None,
            _note(
                recs[i],
                "village_vs_siak_missing",
                None,
                None,
                None,
                "resident in Disdukcapil's register, not in the village's",
            ),
        )
        for i in sorted(missing)
    ]
    kks = sorted({x["no_kk"] for i, x in enumerate(recs) if i not in missing})
    moved = set(r.sample(kks, min(len(kks), max(1, round(len(kks) * diff)))))
    dead = [i for i, x in enumerate(recs) if x["status_dasar"] == "2" and i not in missing]
    k_dead = min(len(dead), max(1, round(len(dead) * min(1.0, diff * 20))))
    unrecorded = set(r.sample(dead, k_dead))
    rts = sorted({x["rt"] for x in recs if x["rt"]}) or ["001"]
    # sorted: a set of strings iterates in a per-process order (PYTHONHASHSEED), which made
    # the drops (and the demo's findings) differ from run to run
    choices = [t for t in rts if t] + [f"{len(rts) + 1:03d}"]
    new_rt = {kk: r.choice(choices) for kk in sorted(moved)}
    kept: list[dict] = []
    for i, x in enumerate(recs):
        if i not in missing:
            rt = new_rt[x["no_kk"]] if x["no_kk"] in moved else None
            kept.append(_village_row(x, len(kept), rt, i in unrecorded, no_rw, notes))
    return pa.Table.from_pylist(kept, schema=PENDUDUK_SCHEMA), notes


def _village_row(
    x: dict,
    pos: int,
    rt: str | None,
    unrecorded: bool,
    no_rw: bool,
    notes: list[tuple[int | None, dict]],
) -> dict:
    """Resident ``x`` as the village keeps it at ``pos``: maybe in another RT (``rt``),
    maybe still alive, without RW in a desa that keeps none; each difference noted."""
    if rt is not None and rt != x["rt"]:
        notes.append(
            (
                pos,
                _note(
                    x,
                    "village_vs_siak_rt",
                    "rt",
                    x["rt"],
                    rt,
                    "household recorded in another RT by the village",
                ),
            )
        )
        x = {**x, "rt": rt}
    if unrecorded:
        notes.append(
            (
                pos,
                _note(
                    x,
                    "village_vs_siak_status_dasar",
                    "status_dasar",
                    "2",
                    "1",
                    "death registered at Disdukcapil, not in the village",
                ),
            )
        )
        x = {**x, "status_dasar": "1"}
    if no_rw and x["rw"]:
        notes.append(
            (
                pos,
                _note(
                    x,
                    "village_vs_siak_no_rw",
                    "rw",
                    x["rw"],
                    "-",
                    "village keeps no RW; template holds '-'",
                ),
            )
        )
    return x


def _note(
    x: dict, kind: str, field: str | None, old: str | None, new: str | None, detail: str
) -> dict:
    return {
        "entity": "penduduk",
        "row_index": None,
        "record_key": x["nik"],
        "nik": x["nik"],
        "kind": kind,
        "field": field,
        "original_value": old,
        "delivered_value": new,
        "detail": detail,
    }
