"""The dashboard page: sections of tables and charts assembled into one self-contained HTML
file. Labels are Bahasa Indonesia first, English second."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from simpul.config import SimpulConfig
from simpul.dashboard.data import collect
from simpul.dashboard.health import health_section
from simpul.dashboard.markup import CSS, STATE_LABELS, e, heading, html_table, wib_text
from simpul.dashboard.svg import bar_chart, line_chart, loads_chart

DELETION_LABELS = {
    "received": "dihapus / deleted",
    "loaded": "diterapkan / applied",
    "quarantined": "tak terbaca / unreadable",
}


def render(data: dict) -> str:
    """The whole page for the numbers ``collect`` gathered."""
    now: datetime = data["generated_at"]
    parts = [
        health_section(data),
        _tiles(data),
        _loads_section(data["loads"]),
        _error_rate_section(data["loads"]),
        _freshness_section(data["freshness"]),
        _quarantine_section(data),
    ]
    if data.get("exchange"):  # deliveries not sent yet or waiting for their receipt
        parts.append(
            "<section>"
            + heading("Kiriman menunggu", "Deliveries waiting")
            + html_table(
                data["exchange"],
                [
                    ("agency", "instansi / agency"),
                    ("dataset", "dataset"),
                    ("state", "keadaan / state"),
                    ("receipt_due", "tenggat tanda terima / receipt due"),
                    ("delivery_id", "delivery_id"),
                ],
            )
            + "</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Simpul — Dasbor operasional / Operations dashboard</title>"
        f"<style>{CSS}</style></head><body><header><h1>Simpul — Dasbor operasional "
        '<span style="opacity:.8;font-weight:normal">/ Operations dashboard</span></h1>'
        f"<p>Dibuat / generated {wib_text(now)} · hanya agregat, tanpa data pribadi / "
        "aggregates only, no personal data</p></header><main>"
        + "".join(parts)
        + "</main><footer>Simpul · ops.loads, ops.dq_findings, ops.quarantine</footer>"
        "</body></html>\n"
    )


def _tiles(data: dict) -> str:
    """The headline counts: loads, held loads, open quarantine, stale sources."""
    loads = data["loads"]
    held = sum(1 for r in loads if r["status"] == "held")
    open_total = sum(int(r["records"]) for r in data["open_quarantine"])
    stale = sum(1 for r in data["freshness"] if r["state"] == "stale")
    tiles = [
        (len(loads), "muatan", "loads"),
        (held, "ditahan", "held"),
        (open_total, "karantina terbuka", "open quarantine"),
        (stale, "sumber terlambat", "stale sources"),
    ]
    return (
        '<section class="tiles" style="background:none;border:none;padding:0">'
        + "".join(
            f'<div class="tile"><b>{n}</b>{e(id_)}<br><span>{e(en)}</span></div>'
            for n, id_, en in tiles
        )
        + "</section>"
    )


def _loads_section(loads: list[dict]) -> str:
    """Runs over time, one chart per pipeline (its deletion feed apart), then the latest loads."""
    by_pipeline: dict[str, list[dict]] = defaultdict(list)
    for r in loads:
        name = r["pipeline"] or "?"
        if (r.get("stream") or "").endswith("_deleted"):
            # the source's deletion feed: its own chart, never mixed into the records'
            name += " — penghapusan / deletions"
        by_pipeline[name].append(r)
    runs = [heading("Muatan dari waktu ke waktu", "Loads over time")]
    if not by_pipeline:
        runs.append('<p class="muted">belum ada muatan / no loads yet</p>')
    if by_pipeline:
        runs.append(
            '<p class="muted">Satu kelompok kolom per muatan. Pipeline inkremental hanya '
            "mengirim perubahan sejak muatan sebelumnya: kolom kecil bukan data yang hilang. / "
            "One group of columns per load. Incremental pipelines deliver only what changed "
            "since the previous load: a short column is not data lost.</p>"
        )
    for name, rows in sorted(by_pipeline.items()):
        runs.append(f"<h3>{e(name)}</h3>")
        deletions = name.endswith("deletions")
        runs.append(
            loads_chart(
                rows,
                title=f"{name}: baris per muatan / rows per load",
                labels=DELETION_LABELS if deletions else None,
            )
        )
    runs.append("<h3>Muatan terakhir / Latest loads</h3>")
    runs.append(_latest_loads(loads))
    return "<section>" + "".join(runs) + "</section>"


def _latest_loads(loads: list[dict]) -> str:
    recent = [{**r, "error_pct": f"{r['error_rate'] * 100:.1f}%"} for r in reversed(loads[-15:])]
    return html_table(
        recent,
        [
            ("loaded_at", "waktu / time"),
            ("pipeline", "pipeline"),
            ("load_id", "muatan / load"),
            ("status", "status"),
            ("rows_received", "diterima / received"),
            ("rows_loaded", "dimuat / loaded"),
            ("rows_quarantined", "karantina / quarantined"),
            ("rows_duplicate", "duplikat / duplicate"),
            ("error_pct", "galat / errors"),
        ],
        num={"rows_received", "rows_loaded", "rows_quarantined", "rows_duplicate", "error_pct"},
    )


def _error_rate_section(loads: list[dict]) -> str:
    """DQ error rate per source over time."""
    dq: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in loads:
        if r["loaded_at"] and (r["rows_received"] or 0) > 0:
            dq[r["source"] or "?"].append((r["loaded_at"], r["error_rate"]))
    return (
        "<section>"
        + heading("Tingkat galat kualitas data per sumber", "DQ error rate per source")
        + line_chart(dict(dq), title="tingkat galat / error rate", percent=True)
        + '<p class="muted">Baris dengan temuan tingkat error ÷ (diterima − duplikat). / '
        "Rows with an error-severity finding ÷ (received − duplicate).</p></section>"
    )


def _freshness_section(fresh: list[dict]) -> str:
    """Age of each source's last successful load against its limit."""
    items = []
    markers = {}
    for r in fresh:
        label = f"{r['pipeline']} ({r['source']})"
        color = STATE_LABELS.get(r["state"], ("", "#57606a"))[1]
        items.append((label, float(r["age_hours"] or 0), color))
        markers[label] = float(r["freshness_hours"])
    rows = [
        {
            **r,
            "state_html": '<span class="pill" style="background:{c}">{t}</span>'.format(
                c=STATE_LABELS.get(r["state"], ("", "#57606a"))[1],
                t=e(STATE_LABELS.get(r["state"], (r["state"], ""))[0]),
            ),
        }
        for r in fresh
    ]
    return (
        "<section>"
        + heading("Kemutakhiran per sumber", "Freshness per source")
        + bar_chart(
            items,
            title="umur muatan sukses terakhir / age of last successful load",
            markers=markers,
            unit=" j/h",
        )
        + '<p class="muted">Batang: jam sejak muatan sukses terakhir; garis putus: batas. / '
        "Bars: hours since the last successful load; dashed line: the limit.</p>"
        + html_table(
            rows,
            [
                ("pipeline", "pipeline"),
                ("source", "sumber / source"),
                ("schedule", "jadwal / schedule"),
                ("last_loaded", "muatan sukses terakhir / last"),
                ("age_hours", "umur (jam) / age (h)"),
                ("freshness_hours", "batas (jam) / limit (h)"),
                ("state_html", "keadaan / state"),
            ],
            num={"age_hours", "freshness_hours"},
        )
        + "</section>"
    )


def _quarantine_section(data: dict) -> str:
    """Open quarantine per stream and per rule (with the rule's Indonesian label)."""
    q_items = [
        (f"{r['source']}.{r['stream']}", float(r["records"]), "#cf222e")
        for r in data["open_quarantine"]
    ]
    top_rules = list(data["open_by_rule"].items())[:15]
    labels = data.get("rule_labels") or {}
    rule_items = [
        (f"{labels[rule]} ({rule})" if rule in labels else rule, float(n), "#bf8700")
        for rule, n in top_rules
    ]
    return (
        "<section>"
        + heading("Karantina terbuka", "Open quarantine")
        + bar_chart(q_items, title="karantina terbuka per aliran / open per stream")
        + "<h3>Per aturan / By rule</h3>"
        + bar_chart(rule_items, title="karantina terbuka per aturan / open per rule")
        + '<p class="muted">Tinjau dengan / review with: <code>simpul sql "select ... from '
        "ops.quarantine where status = 'open'\"</code></p></section>"
    )


def build_dashboard(
    wh: Any,
    out_path: Path | str,
    cfg: SimpulConfig | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the dashboard for warehouse ``wh`` to ``out_path``; returns the path."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render(collect(wh, cfg, now))
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def default_path() -> Path:
    from simpul.config import paths

    return paths().reports / "dashboard.html"
