"""Inline SVG charts drawn by hand: no CDN and no JavaScript, so the page opens offline. Every
mark carries a native SVG tooltip (``<title>``); times are shown in WIB."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import UTC, datetime

from simpul.domain.clock import WIB

PALETTE = ["#1f6feb", "#2da44e", "#cf222e", "#bf8700", "#8250df", "#0a7b83", "#d1242f", "#57606a"]
SERIES_COLORS = {"received": "#1f6feb", "loaded": "#2da44e", "quarantined": "#cf222e"}
SERIES_LABELS = {
    "received": "diterima / received",
    "loaded": "dimuat / loaded",
    "quarantined": "dikarantina / quarantined",
}
LOAD_KEYS = ("received", "loaded", "quarantined")

e = html.escape


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


def _svg_open(title: str, width: int, height: int) -> list[str]:
    """The opening ``<svg>`` element and its accessible title."""
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{e(title)}</title>",
    ]


def _no_data(out: list[str], width: int, height: int) -> str:
    """A finished chart that says there is nothing to draw yet."""
    out.append(
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">'
        "belum ada data / no data yet</text></svg>"
    )
    return "".join(out)


def _y_grid(
    left: int, pw: float, ymax: float, y: Callable[[float], float], percent: bool = False
) -> list[str]:
    """Five horizontal grid lines with their value labels, 0 to ``ymax``."""
    out = []
    for i in range(5):
        v = ymax * i / 4
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="tick">'
            f"{e(_fmt_num(v, percent))}</text>"
        )
    return out


def _legend_entry(lx: float, height: int, color: str, label: str) -> list[str]:
    return [
        f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{color}"/>',
        f'<text x="{lx + 14}" y="{height - 7}" class="legend">{e(label)}</text>',
    ]


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
    out = _svg_open(title, width, height)
    if not points:
        return _no_data(out, width, height)
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

    out += _y_grid(left, pw, ymax, y, percent)
    out += _time_ticks(t0, t1, x, top + ph)
    out.append(
        f'<text x="{left + pw}" y="{top + ph + 30}" text-anchor="end" class="tick">WIB</text>'
    )
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    for i, (name, pts) in enumerate(series.items()):
        color = colors.get(name, PALETTE[i % len(PALETTE)])
        label = labels.get(name, name)
        out += _line(sorted(pts), x, y, color, label, percent)
        out += _legend_entry(left + 8 + i * 190, height, color, label)
    out.append("</svg>")
    return "".join(out)


def _time_ticks(t0: float, t1: float, x: Callable[[datetime], float], baseline: float) -> list[str]:
    """Up to five time labels (WIB) under the x axis."""
    out = []
    span = (t1 - t0) or 1.0
    ticks = 1 if t1 == t0 else 5
    for i in range(ticks):
        t = datetime.fromtimestamp(t0 + span * i / max(ticks - 1, 1), UTC)
        anchor = "start" if i == 0 and ticks > 1 else "end" if i == ticks - 1 > 0 else "middle"
        out.append(
            f'<text x="{x(t):.1f}" y="{baseline + 16}" text-anchor="{anchor}" class="tick">'
            f"{t.astimezone(WIB):%d-%m %H:%M}</text>"
        )
    return out


def _line(
    pts: list[tuple[datetime, float]],
    x: Callable[[datetime], float],
    y: Callable[[float], float],
    color: str,
    label: str,
    percent: bool,
) -> list[str]:
    """One series: a polyline through its points and a dot with a tooltip on each."""
    out = []
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
    if len(pts) > 1:
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
    for t, v in pts:
        out.append(
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
            f"<title>{e(label)} {t.astimezone(WIB):%Y-%m-%d %H:%M} WIB: "
            f"{e(_fmt_num(v, percent))}</title></circle>"
        )
    return out


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
    out = _svg_open(title, width, height)
    if not rows:
        return _no_data(out, width, height)
    names = {**SERIES_LABELS, **(labels or {})}
    # whole-number steps (rows are counted), four of them, each a round number
    step = max(1.0, _nice_max(max(float(r[f"rows_{k}"] or 0) for r in rows for k in LOAD_KEYS) / 4))
    ymax = step * 4
    out += _y_grid(left, pw, ymax, lambda v: top + ph - v / ymax * ph)
    slot = pw / max(len(rows), 1)
    every = max(1, math.ceil(len(rows) / 6))
    for i, r in enumerate(rows):
        out += _load_columns(r, (left, i, slot), top, ph, ymax, names)
        if i % every == 0:
            out.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{top + ph + 16}" '
                f'text-anchor="middle" class="tick">'
                f"{r['loaded_at'].astimezone(WIB):%d-%m %H:%M}</text>"
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
    for i, k in enumerate(LOAD_KEYS):
        out += _legend_entry(left + 8 + i * 190, height, SERIES_COLORS[k], names[k])
    out.append("</svg>")
    return "".join(out)


def _load_columns(
    r: dict,
    place: tuple[int, int, float],
    top: int,
    ph: float,
    ymax: float,
    names: dict[str, str],
) -> list[str]:
    """The three columns of load number ``i`` (``place`` = left, i, slot)."""
    left, i, slot = place
    out = []
    bar = max(min(slot / 4, 18), 2)
    x0 = left + i * slot + (slot - 3 * bar) / 2
    when = r["loaded_at"].astimezone(WIB)
    for j, k in enumerate(LOAD_KEYS):
        v = float(r[f"rows_{k}"] or 0)
        h = v / ymax * ph
        out.append(
            f'<rect x="{x0 + j * bar:.1f}" y="{top + ph - h:.1f}" width="{bar:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{SERIES_COLORS[k]}"><title>'
            f"{e(names[k])} {when:%Y-%m-%d %H:%M} WIB ({e(str(r['status']))}): "
            f"{e(_fmt_num(v))}</title></rect>"
        )
    return out


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
    out = _svg_open(title, width, height)
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
