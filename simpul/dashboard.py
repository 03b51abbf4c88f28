"""A static, self-contained HTML monitoring dashboard (``simpul dashboard``).

One HTML file with inline SVG charts drawn here: no CDN, no JavaScript, so it opens from a file
share or an e-mail attachment on an office PC without internet. Labels are Bahasa Indonesia
first, English second. It reads only operational aggregates from ``ops.loads``,
``ops.dq_findings`` and ``ops.quarantine`` (counts, rule names, timestamps, ids); record keys,
record contents and reasons are never selected, so no personal data can reach the page.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simpul.config import ConfigError, SimpulConfig, load_config
from simpul.domain.clock import WIB, as_utc

PALETTE = ["#1f6feb", "#2da44e", "#cf222e", "#bf8700", "#8250df", "#0a7b83", "#d1242f", "#57606a"]
SERIES_COLORS = {"received": "#1f6feb", "loaded": "#2da44e", "quarantined": "#cf222e"}
SERIES_LABELS = {
    "received": "diterima / received",
    "loaded": "dimuat / loaded",
    "quarantined": "dikarantina / quarantined",
}
DELETION_LABELS = {
    "received": "dihapus / deleted",
    "loaded": "diterapkan / applied",
    "quarantined": "tak terbaca / unreadable",
}
STATE_LABELS = {
    "ok": ("mutakhir / fresh", "#2da44e"),
    "stale": ("terlambat / stale", "#cf222e"),
    "never": ("belum pernah / never", "#57606a"),
}
MAX_LOADS = 500

e = html.escape


# --------------------------------------------------------------------------- data


def collect(wh: Any, cfg: SimpulConfig | None = None, now: datetime | None = None) -> dict:
    """Every number the dashboard shows (aggregates only; safe to print or serialise)."""
    from simpul.orchestration.freshness import freshness_report, load_ops_settings

    now = now or datetime.now(UTC)
    loads = wh.query(
        "select * from (select load_id, pipeline, source, stream, entity, status, loaded_at, "
        "rows_received, rows_loaded, rows_quarantined, rows_duplicate from ops.loads "
        "order by loaded_at desc limit :n) t order by loaded_at",
        {"n": MAX_LOADS},
    )
    error_rows = {
        r["load_id"]: int(r["error_rows"] or 0)
        for r in wh.query(
            "select load_id, count(distinct row_number) as error_rows from ops.dq_findings "
            "where severity = 'error' group by load_id"
        )
    }
    for r in loads:
        r["loaded_at"] = as_utc(r["loaded_at"])
        checked = int(r["rows_received"] or 0) - int(r["rows_duplicate"] or 0)
        r["error_rows"] = error_rows.get(r["load_id"], 0)
        r["error_rate"] = r["error_rows"] / checked if checked > 0 else 0.0
    open_q = wh.query(
        "select source, stream, entity, count(*) as records from ops.quarantine "
        "where status = 'open' group by source, stream, entity order by source, stream, entity"
    )
    by_rule: dict[str, int] = defaultdict(int)
    for r in wh.query(
        "select rules, count(*) as n from ops.quarantine where status = 'open' group by rules"
    ):
        for rule in (r["rules"] or "").split(","):
            if rule:
                by_rule[rule] += int(r["n"])
    if cfg is None:
        try:
            cfg = load_config()
        except ConfigError:
            cfg = None
    if cfg is not None:
        fresh = freshness_report(wh, cfg, load_ops_settings(), now)
    else:  # no valid config: freshness of whatever pipelines have loaded, default cadence
        fresh = _freshness_from_loads(loads, now)
    health = None
    if cfg is not None:
        from simpul.orchestration.health import collect as collect_health

        health = collect_health(wh, cfg, now)
    from simpul.exchange.service import status_rows
    from simpul.orchestration.alerts import external_channels, read_alert_log

    exchange = [
        {k: r[k] for k in ("delivery_id", "agency", "dataset", "state", "receipt_due")}
        for r in status_rows(wh, now)
    ]
    return {
        "rule_labels": rule_labels(cfg, set(by_rule)),
        "health": health,
        "alert_log": read_alert_log(30),
        "alert_channels": external_channels(),
        "generated_at": now,
        "exchange": exchange,
        "loads": loads,
        "open_quarantine": open_q,
        "open_by_rule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        "freshness": fresh,
    }


def rule_labels(cfg: SimpulConfig | None, rules: set[str]) -> dict[str, str]:
    """Indonesian label of each rule: the fixed ``reason_id`` text of its check in
    ``expectations/`` (code, never data). Empty when the suites cannot be loaded."""
    if not rules or cfg is None:
        return {}
    out: dict[str, str] = {}
    try:
        from simpul.validate import load_checks

        for suite in sorted({p.suite for p in cfg.pipelines.values()}):
            try:
                checks = load_checks(suite, kabupaten=cfg.kabupaten)
            except TypeError:
                checks = load_checks(suite)
            for c in checks:
                if c.rule in rules and c.rule not in out:
                    text = c.reason_id.split(";")[0].split(" (")[0].strip().rstrip(".")
                    out[c.rule] = text if len(text) <= 60 else text[:59] + "…"
    except Exception:  # noqa: BLE001 - labels are a help; the rule id is always shown
        return out
    return out


def _freshness_from_loads(loads: list[dict], now: datetime) -> list[dict]:
    from simpul.orchestration.freshness import DEFAULT_FRESHNESS_HOURS

    last: dict[str, dict] = {}
    for r in loads:
        if r["status"] == "loaded":
            last[r["pipeline"]] = r
    out = []
    for name, r in sorted(last.items()):
        age = (now - r["loaded_at"]).total_seconds() / 3600
        out.append(
            {
                "pipeline": name,
                "source": r["source"],
                "entity": r["entity"],
                "schedule": "?",
                "last_loaded": r["loaded_at"],
                "age_hours": round(age, 2),
                "freshness_hours": DEFAULT_FRESHNESS_HOURS,
                "state": "stale" if age > DEFAULT_FRESHNESS_HOURS else "ok",
            }
        )
    return out


# --------------------------------------------------------------------------- SVG


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _fmt_num(v: float, percent: bool = False) -> str:
    if percent:
        return f"{v * 100:.0f}%" if v * 100 >= 10 or v == 0 else f"{v * 100:.1f}%"
    return f"{v:,.0f}".replace(",", ".") if abs(v) >= 1 or v == 0 else f"{v:.2f}"


def line_chart(
    series: dict[str, list[tuple[datetime, float]]],
    *,
    title: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    percent: bool = False,
    width: int = 760,
    height: int = 260,
) -> str:
    """Lines over a time axis; every point has a native SVG tooltip (``<title>``)."""
    colors = colors or {}
    labels = labels or {}
    points = [p for pts in series.values() for p in pts]
    left, right, top, bottom = 64, 16, 28, 48
    pw, ph = width - left - right, height - top - bottom
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{e(title)}</title>",
    ]
    if not points:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">'
            "belum ada data / no data yet</text></svg>"
        )
        return "".join(out)
    t0 = min(p[0] for p in points).timestamp()
    t1 = max(p[0] for p in points).timestamp()
    span = (t1 - t0) or 1.0
    ymax = _nice_max(
        max(p[1] for p in points) if not percent else max(max(p[1] for p in points), 0.01)
    )
    if percent:
        ymax = min(ymax, 1.0) if ymax <= 1 else ymax

    def x(t: datetime) -> float:
        if t1 == t0:
            return left + pw / 2
        return left + (t.timestamp() - t0) / span * pw

    def y(v: float) -> float:
        return top + ph - (v / ymax) * ph

    for i in range(5):
        v = ymax * i / 4
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="tick">'
            f"{e(_fmt_num(v, percent))}</text>"
        )
    ticks = 1 if t1 == t0 else 5
    for i in range(ticks):
        t = datetime.fromtimestamp(t0 + span * i / max(ticks - 1, 1), UTC)
        xx = x(t)
        anchor = "start" if i == 0 and ticks > 1 else "end" if i == ticks - 1 > 0 else "middle"
        out.append(
            f'<text x="{xx:.1f}" y="{top + ph + 16}" text-anchor="{anchor}" class="tick">'
            f"{t.astimezone(WIB):%d-%m %H:%M}</text>"
        )
    out.append(
        f'<text x="{left + pw}" y="{top + ph + 30}" text-anchor="end" class="tick">WIB</text>'
    )
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    for i, (name, pts) in enumerate(series.items()):
        color = colors.get(name, PALETTE[i % len(PALETTE)])
        pts = sorted(pts)
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        if len(pts) > 1:
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for t, v in pts:
            out.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{e(labels.get(name, name))} {t.astimezone(WIB):%Y-%m-%d %H:%M} WIB: "
                f"{e(_fmt_num(v, percent))}</title></circle>"
            )
        lx = left + 8 + i * 190
        out.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{color}"/>')
        out.append(
            f'<text x="{lx + 14}" y="{height - 7}" class="legend">'
            f"{e(labels.get(name, name))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def loads_chart(
    rows: list[dict],
    *,
    title: str,
    width: int = 760,
    height: int = 240,
    max_loads: int = 40,
    labels: dict[str, str] | None = None,
) -> str:
    """One group of columns per load (received / loaded / quarantined), in order of time.

    A load is a delivery, not a level: an incremental pipeline delivers only what changed, so
    a small load after a big first one is drawn as a short column, not as data falling away.
    """
    rows = [r for r in rows if r.get("loaded_at")][-max_loads:]
    left, right, top, bottom = 64, 16, 28, 56
    pw, ph = width - left - right, height - top - bottom
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{e(title)}</title>",
    ]
    if not rows:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">'
            "belum ada data / no data yet</text></svg>"
        )
        return "".join(out)
    keys = ("received", "loaded", "quarantined")
    names = {**SERIES_LABELS, **(labels or {})}
    # whole-number steps (rows are counted), four of them, each a round number
    step = max(1.0, _nice_max(max(float(r[f"rows_{k}"] or 0) for r in rows for k in keys) / 4))
    ymax = step * 4
    for i in range(5):
        v = ymax * i / 4
        yy = top + ph - v / ymax * ph
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="tick">'
            f"{e(_fmt_num(v))}</text>"
        )
    slot = pw / max(len(rows), 1)
    bar = max(min(slot / 4, 18), 2)
    every = max(1, math.ceil(len(rows) / 6))
    for i, r in enumerate(rows):
        x0 = left + i * slot + (slot - 3 * bar) / 2
        when = r["loaded_at"].astimezone(WIB)
        for j, k in enumerate(keys):
            v = float(r[f"rows_{k}"] or 0)
            h = v / ymax * ph
            out.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + ph - h:.1f}" width="{bar:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{SERIES_COLORS[k]}"><title>'
                f"{e(names[k])} {when:%Y-%m-%d %H:%M} WIB ({e(str(r['status']))}): "
                f"{e(_fmt_num(v))}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{top + ph + 16}" '
                f'text-anchor="middle" class="tick">{when:%d-%m %H:%M}</text>'
            )
        if r["status"] == "held":
            out.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{top - 6}" text-anchor="middle" '
                'class="tick">ditahan/held</text>'
            )
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    out.append(
        f'<text x="{left + pw}" y="{top + ph + 30}" text-anchor="end" class="tick">'
        "waktu muatan / load time (WIB)</text>"
    )
    for i, k in enumerate(keys):
        lx = left + 8 + i * 190
        out.append(
            f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{SERIES_COLORS[k]}"/>'
        )
        out.append(f'<text x="{lx + 14}" y="{height - 7}" class="legend">{e(names[k])}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    items: list[tuple[str, float, str]],
    *,
    title: str,
    markers: dict[str, float] | None = None,
    unit: str = "",
    width: int = 760,
) -> str:
    """Horizontal bars ``(label, value, color)``; ``markers`` draws a limit line per bar."""
    markers = markers or {}
    bar_h, gap, left, right, top = 22, 8, 300, 70, 8
    height = top + max(len(items), 1) * (bar_h + gap) + 8
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{e(title)}</title>",
    ]
    if not items:
        out.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" '
            'class="muted">tidak ada / none</text></svg>'
        )
        return "".join(out)
    vmax = _nice_max(max([v for _, v, _ in items] + list(markers.values()) + [0.0]))
    pw = width - left - right
    for i, (label, value, color) in enumerate(items):
        yy = top + i * (bar_h + gap)
        w = max(value / vmax * pw, 1.0)
        short = label if len(label) <= 44 else label[:43] + "…"
        out.append(
            f'<text x="{left - 8}" y="{yy + bar_h * 0.7:.1f}" text-anchor="end" '
            f'class="label">{e(short)}<title>{e(label)}</title></text>'
        )
        out.append(
            f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{color}"><title>{e(label)}: {e(_fmt_num(value))}{e(unit)}</title>'
            "</rect>"
        )
        out.append(
            f'<text x="{left + w + 6:.1f}" y="{yy + bar_h * 0.7:.1f}" class="tick">'
            f"{e(_fmt_num(value))}{e(unit)}</text>"
        )
        if label in markers:
            mx = left + markers[label] / vmax * pw
            out.append(
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{yy - 3}" y2="{yy + bar_h + 3}" '
                'class="marker"><title>batas / limit: '
                f"{e(_fmt_num(markers[label]))}{e(unit)}</title></line>"
            )
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- page


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
header{background:#0b3d91;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:16px 24px;max-width:1100px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;
margin:0 0 16px}h2{font-size:17px;margin:4px 0 8px}h3{font-size:14px;margin:12px 0 4px}
.en{color:#57606a;font-weight:normal}.tiles{display:flex;gap:12px;flex-wrap:wrap}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;
min-width:150px}.tile b{display:block;font-size:24px}.tile span{color:#57606a;font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border-bottom:1px solid #d0d7de;
padding:4px 8px;text-align:left}th{background:#f6f8fa}td.num{text-align:right}
.chart .grid{stroke:#eaeef2}.chart .axis{stroke:#8c959f}.chart .tick{font-size:11px;
fill:#57606a}.chart .legend,.chart .label{font-size:12px;fill:#1f2328}.chart .muted,.muted{
fill:#8c959f;color:#8c959f}.chart .marker{stroke:#1f2328;stroke-width:2;stroke-dasharray:3 2}
.pill{border-radius:10px;padding:1px 8px;color:#fff;font-size:12px;white-space:nowrap}
footer{color:#57606a;font-size:12px;padding:0 24px 24px}
.scroll{overflow-x:auto;max-width:100%}svg.chart{max-width:100%;height:auto;display:block}
main{box-sizing:border-box;width:100%}section{overflow-x:auto}
@media (max-width:600px){main{padding:8px}header{padding:12px}section{padding:8px}
table{font-size:12px}.tile{min-width:120px}}.warn{background:#fff8c5;border:1px solid #d4a72c;
padding:6px 10px;border-radius:6px}.ok{color:#1a7f37}.problems li{margin:2px 0}
"""


def wib_text(v: datetime | str | None) -> str:
    """Times on the page are Western Indonesia Time (UTC+7), as operators read them."""
    from simpul.status import wib

    return wib(v)


RUN_STATES = {
    "success": ("berhasil / success", "#2da44e"),
    "failed": ("gagal / failed", "#cf222e"),
    "retrying": ("diulang / retrying", "#bf8700"),
    None: ("belum ada / none yet", "#57606a"),
}


def _pill(text: str, color: str) -> str:
    return f'<span class="pill" style="background:{color}">{e(text)}</span>'


def health_section(data: dict) -> str:
    """Health first: what needs attention, each pipeline's last run, the outbox, the alerts."""
    from simpul.orchestration.health import problems

    h = data.get("health")
    parts = [_h2("Kesehatan", "Health")]
    if not data.get("alert_channels"):
        parts.append(
            '<p class="warn">Belum ada saluran peringatan eksternal: peringatan hanya ditulis '
            "ke log peringatan di SIMPUL_HOME. / No external alert channel: alerts only go to "
            "the alert log in SIMPUL_HOME.</p>"
        )
    if h is None:
        parts.append('<p class="muted">konfigurasi tidak valid / invalid configuration</p>')
        return "<section>" + "".join(parts) + "</section>"
    found = problems(h)
    parts.append("<h3>Perlu perhatian / Needs attention</h3>")
    if found:
        parts.append('<ul class="problems">' + "".join(f"<li>{e(x)}</li>" for x in found) + "</ul>")
    else:
        parts.append('<p class="ok">Tidak ada masalah / No problems</p>')
    rows = []
    for p in h.pipelines:
        label, color = RUN_STATES.get(p["run_state"], (str(p["run_state"]), "#57606a"))
        fl, fc = STATE_LABELS.get(p["freshness"] or "never", ("?", "#57606a"))
        rows.append(
            {
                **p,
                "run_html": _pill(label, color),
                "fresh_html": _pill(fl, fc),
                "cause": p.get("error_id") or "",
            }
        )
    parts.append(
        _html_table(
            rows,
            [
                ("pipeline", "pipeline"),
                ("agency", "instansi / agency"),
                ("run_html", "run terakhir / last run"),
                ("failed_tries", "percobaan gagal / failed tries"),
                ("load_status", "muatan / load"),
                ("loaded_at", "dimuat / loaded"),
                ("held", "ditahan / held"),
                ("fresh_html", "kemutakhiran / freshness"),
                ("cause", "penyebab / cause"),
            ],
            num={"failed_tries", "held"},
        )
    )
    parts.append("<h3>Pertukaran data (outbox) / Data exchange (outbox)</h3>")
    ex_rows = [
        {
            "agreement": a["agreement"],
            "agency": a.get("agency") or "",
            "outbox": ", ".join(f"{k}: {v}" for k, v in sorted(a["statuses"].items())) or "-",
            "retrying": a.get("retrying", 0),
            "run": RUN_STATES.get(a.get("run_state"), (str(a.get("run_state")), ""))[0],
        }
        for a in h.exchanges
    ]
    parts.append(
        _html_table(
            ex_rows,
            [
                ("agreement", "perjanjian / agreement"),
                ("agency", "instansi / agency"),
                ("outbox", "status outbox"),
                ("retrying", "menunggu ulang / retrying"),
                ("run", "run terakhir / last run"),
            ],
            num={"retrying"},
        )
    )
    parts.append("<h3>Log peringatan / Alert log</h3>")
    log_rows = [
        {
            "at": wib_text(a.get("at")),
            "kind": a.get("kind"),
            "subject": a.get("pipeline") or a.get("dag_id") or "",
            "message_id": a.get("message_id"),
            "message_en": a.get("message_en"),
        }
        for a in data.get("alert_log") or []
    ]
    parts.append(
        _html_table(
            log_rows,
            [
                ("at", "waktu / time"),
                ("kind", "jenis / kind"),
                ("subject", "pipeline / DAG"),
                ("message_id", "pesan"),
                ("message_en", "message"),
            ],
        )
    )
    return "<section>" + "".join(parts) + "</section>"


def _h2(id_: str, en: str) -> str:
    return f'<h2>{e(id_)} <span class="en">/ {e(en)}</span></h2>'


def _html_table(rows: list[dict], cols: list[tuple[str, str]], num: set[str] | None = None) -> str:
    num = num or set()
    if not rows:
        return '<p class="muted">tidak ada data / no data</p>'
    head = "".join(f"<th>{e(label)}</th>" for _, label in cols)
    body = []
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            if isinstance(v, datetime):
                v = wib_text(v)
            cls = ' class="num"' if key in num else ""
            text = str(v) if key.endswith("_html") else e(str("" if v is None else v))
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # a wide table scrolls inside its own box; the page itself never gets wider than the screen
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def render(data: dict) -> str:
    loads = data["loads"]
    now: datetime = data["generated_at"]
    fresh = data["freshness"]
    held = sum(1 for r in loads if r["status"] == "held")
    open_total = sum(int(r["records"]) for r in data["open_quarantine"])
    stale = sum(1 for r in fresh if r["state"] == "stale")
    tiles = [
        (len(loads), "muatan", "loads"),
        (held, "ditahan", "held"),
        (open_total, "karantina terbuka", "open quarantine"),
        (stale, "sumber terlambat", "stale sources"),
    ]
    parts = [
        health_section(data),
        '<section class="tiles" style="background:none;border:none;padding:0">'
        + "".join(
            f'<div class="tile"><b>{n}</b>{e(id_)}<br><span>{e(en)}</span></div>'
            for n, id_, en in tiles
        )
        + "</section>",
    ]

    # runs over time, one chart per pipeline
    by_pipeline: dict[str, list[dict]] = defaultdict(list)
    for r in loads:
        name = r["pipeline"] or "?"
        if (r.get("stream") or "").endswith("_deleted"):
            # the source's deletion feed: its own chart, never mixed into the records'
            name += " — penghapusan / deletions"
        by_pipeline[name].append(r)
    runs = [_h2("Muatan dari waktu ke waktu", "Loads over time")]
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
    recent = [{**r, "error_pct": f"{r['error_rate'] * 100:.1f}%"} for r in reversed(loads[-15:])]
    runs.append("<h3>Muatan terakhir / Latest loads</h3>")
    runs.append(
        _html_table(
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
    )
    parts.append("<section>" + "".join(runs) + "</section>")

    # DQ error rate per source over time
    dq: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in loads:
        if r["loaded_at"] and (r["rows_received"] or 0) > 0:
            dq[r["source"] or "?"].append((r["loaded_at"], r["error_rate"]))
    parts.append(
        "<section>"
        + _h2("Tingkat galat kualitas data per sumber", "DQ error rate per source")
        + line_chart(dict(dq), title="tingkat galat / error rate", percent=True)
        + '<p class="muted">Baris dengan temuan tingkat error ÷ (diterima − duplikat). / '
        "Rows with an error-severity finding ÷ (received − duplicate).</p></section>"
    )

    # freshness
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
    parts.append(
        "<section>"
        + _h2("Kemutakhiran per sumber", "Freshness per source")
        + bar_chart(
            items,
            title="umur muatan sukses terakhir / age of last successful load",
            markers=markers,
            unit=" j/h",
        )
        + '<p class="muted">Batang: jam sejak muatan sukses terakhir; garis putus: batas. / '
        "Bars: hours since the last successful load; dashed line: the limit.</p>"
        + _html_table(
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

    # open quarantine
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
    parts.append(
        "<section>"
        + _h2("Karantina terbuka", "Open quarantine")
        + bar_chart(q_items, title="karantina terbuka per aliran / open per stream")
        + "<h3>Per aturan / By rule</h3>"
        + bar_chart(rule_items, title="karantina terbuka per aturan / open per rule")
        + '<p class="muted">Tinjau dengan / review with: <code>simpul sql "select ... from '
        "ops.quarantine where status = 'open'\"</code></p></section>"
    )
    if data.get("exchange"):  # deliveries not sent yet or waiting for their receipt
        parts.append(
            "<section>"
            + _h2("Kiriman menunggu", "Deliveries waiting")
            + _html_table(
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
