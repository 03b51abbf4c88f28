"""Is a dataset ready to leave the hub? Inputs loaded this cycle, and a plausible result.

Each dataset declares the pipelines it is built from (:attr:`Dataset.pipelines`). It is
delivered only when every one of them has a successful load (``ops.loads`` status ``loaded``)
within the agreement's cycle (``cycle_hours``) and none of them is, at its latest load,
running, failed or held by the quality gate. A half-loaded warehouse therefore delivers
nothing and says why, instead of telling Disdukcapil that every resident is "not in SIAK".

Reconciliation datasets (``Dataset.reconciliation``) also refuse a result that cannot be
right: one side empty, or more findings than ``max_delta_share`` of the population. That is
held for review, with an alert.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta
from typing import Any

from simpul.exchange.errors import NotReady
from simpul.warehouse.engine import Warehouse

SUCCESS = ("loaded",)
BLOCKING = ("running", "failed", "held")


def configured_pipelines() -> list[str]:
    """Pipeline names from ``simpul.yaml``; empty when it cannot be read (then the names
    already recorded in ``ops.loads`` are used)."""
    try:
        from simpul.config import load_config

        return sorted(load_config().pipelines)
    except Exception:  # noqa: BLE001 - readiness still works from ops.loads
        return []


def input_pipelines(patterns: tuple[str, ...], params: dict[str, Any], wh: Warehouse) -> list[str]:
    """The dataset's pipeline patterns with the grant's parameters filled in, globs expanded
    (``{source}_*``: every pipeline of that source)."""
    known = configured_pipelines()
    if not known and _has_loads(wh):
        known = sorted(
            r["pipeline"]
            for r in wh.query("SELECT DISTINCT pipeline FROM ops.loads WHERE pipeline IS NOT NULL")
        )
    out: list[str] = []
    for pattern in patterns:
        name = pattern.format(**params)
        if any(ch in name for ch in "*?["):
            matched = [p for p in known if fnmatch.fnmatchcase(p, name)]
            out += matched or [name]  # an unmatched glob stays, and reads as "never loaded"
        else:
            out.append(name)
    return sorted(set(out))


def _has_loads(wh: Warehouse) -> bool:
    with wh.engine.connect() as conn:
        return wh.table_exists(conn, "ops", "loads")


def check_inputs(wh: Warehouse, pipelines: list[str], cycle: timedelta, now: datetime) -> list[str]:
    """Raise :class:`NotReady` naming every pipeline that is not ready; returns the load ids
    the delivery is built from otherwise."""
    if not pipelines:
        return []
    since = now - cycle
    missing, blocked, load_ids = [], [], []
    for name in pipelines:
        rows = (
            wh.query(
                "SELECT load_id, status, loaded_at FROM ops.loads WHERE pipeline = :p "
                "ORDER BY loaded_at DESC NULLS LAST, load_id DESC",
                {"p": name},
            )
            if _has_loads(wh)
            else []
        )
        if rows and rows[0]["status"] in BLOCKING:
            blocked.append(f"{name} ({rows[0]['status']})")
            continue
        ok = [
            r
            for r in rows
            if r["status"] in SUCCESS and r["loaded_at"] is not None and r["loaded_at"] >= since
        ]
        if not ok:
            missing.append(name)
        else:
            load_ids.append(ok[0]["load_id"])
    if missing or blocked:
        hours = int(cycle.total_seconds() // 3600)
        parts_id, parts_en = [], []
        if missing:
            parts_id.append(f"belum ada muatan berhasil dalam {hours} jam terakhir: {missing}")
            parts_en.append(f"no successful load in the last {hours} h: {missing}")
        if blocked:
            parts_id.append(f"muatan terakhir sedang berjalan/gagal/ditahan: {blocked}")
            parts_en.append(f"latest load running/failed/held: {blocked}")
        raise NotReady(
            "data belum siap dikirim; " + "; ".join(parts_id),
            "data not ready to deliver; " + "; ".join(parts_en),
        )
    return sorted(load_ids)


def check_reconciliation(metadata: dict[str, Any], findings: int, max_share: float) -> None:
    """Refuse a reconciliation with an empty side or implausibly many findings (review)."""
    sides = metadata.get("populasi") or {}
    empty = sorted(k for k, v in sides.items() if not v)
    if empty:
        raise NotReady(
            f"rekonsiliasi ditahan: sisi {empty} kosong, hasilnya akan menyesatkan",
            f"reconciliation held: side {empty} is empty, the result would be misleading",
            review=True,
        )
    base = max(sides.values(), default=0)
    if base and findings / base > max_share:
        raise NotReady(
            f"rekonsiliasi ditahan untuk ditinjau: {findings} selisih dari {base} penduduk "
            f"({findings / base:.0%} > batas {max_share:.0%})",
            f"reconciliation held for review: {findings} findings in a population of {base} "
            f"({findings / base:.0%} > limit {max_share:.0%})",
            review=True,
        )
