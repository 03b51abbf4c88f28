"""Feedback to sources: how quickly each source agency fixes what the hub quarantined.

Each source gets its own quarantined rows back through its channel (dataset
``laporan_mutu_data`` in an agreement, with the per-load HTML reports attached). Here the hub
measures the other half: time-to-fix, ``resolved_at - quarantined_at`` of quarantine rows with
status ``resolved``, per source agency, plus what is still open and how old it is.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from simpul.console import table
from simpul.exchange.store import now_utc
from simpul.warehouse.engine import Warehouse


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def time_to_fix(
    wh: Warehouse, *, now: datetime | None = None, agencies: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Per source: rows quarantined, resolved, open; median / mean / max hours to fix; age in
    hours of the oldest open row. ``agencies`` maps a source to its agency (``simpul.yaml``).
    Computed in Python so both engines agree exactly."""
    now = now or now_utc()
    per: dict[str, dict[str, Any]] = {}
    for r in wh.query(
        "SELECT source, status, quarantined_at, resolved_at FROM ops.quarantine ORDER BY source"
    ):
        s = per.setdefault(r["source"] or "?", {"fixed": [], "open": []})
        if r["status"] == "resolved" and r["resolved_at"] and r["quarantined_at"]:
            s["fixed"].append(_hours(r["quarantined_at"], r["resolved_at"]))
        elif r["status"] == "open" and r["quarantined_at"]:  # superseded: a newer row counts
            s["open"].append(_hours(r["quarantined_at"], now))
    rates = {r["sumber"]: r["persen_padan"] for r in padan_rates(wh)}
    out = []
    for source, s in sorted(per.items()):
        fixed, open_ = s["fixed"], s["open"]
        out.append(
            {
                "source": source,
                "agency": (agencies or {}).get(source, source),
                "quarantined": len(fixed) + len(open_),
                "resolved": len(fixed),
                "open": len(open_),
                "median_hours_to_fix": round(median(fixed), 1) if fixed else None,
                "mean_hours_to_fix": round(sum(fixed) / len(fixed), 1) if fixed else None,
                "max_hours_to_fix": round(max(fixed), 1) if fixed else None,
                "oldest_open_hours": round(max(open_), 1) if open_ else None,
                "persen_padan": rates.get(source),  # share of NIKs that are SIAK NIKs
            }
        )
    return out


def time_to_fix_report(rows: list[dict[str, Any]]) -> str:
    """A short bilingual text report (for the CLI and the weekly feedback mail)."""
    head = (
        "Waktu perbaikan data per sumber (jam) / time to fix per source (hours)\n"
        "resolved = diperbaiki, open = masih dikarantina, "
        "persen_padan = % NIK yang padan dengan SIAK / % of NIKs matching SIAK\n"
    )
    return head + table(rows)


def padan_rates(
    wh: Warehouse, source: str | None = None, *, per_desa: bool = False
) -> list[dict[str, Any]]:
    """Per source agency, from the latest padan NIK run (``core.padan``): records, how many
    carry a NIK that is a SIAK NIK (``nik_padan``, ``persen_padan``), how many padan NIK
    linked despite a wrong NIK (to correct at the source), in review and unmatched.

    Counts only, never a NIK or a name: the feedback tells an agency how good its NIKs are;
    which records to fix travels separately, under an agreement that grants individual data."""
    from simpul.padan.store import summary

    out = []
    for r in summary(wh, per_desa=per_desa):
        if source is not None and r["sumber"] != source:
            continue
        out.append(
            {
                "sumber": r["sumber"],
                **({"kode_desa": r["kode_desa"]} if per_desa else {}),
                **{
                    k: int(r[k] or 0)
                    for k in (
                        "catatan",
                        "nik_padan",
                        "tertaut",
                        "tertaut_nik_salah",
                        "tinjau",
                        "tidak_cocok",
                    )
                },
                "persen_padan": float(r["persen_padan"] or 0.0),
            }
        )
    return out
