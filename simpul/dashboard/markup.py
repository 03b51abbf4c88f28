"""HTML building blocks of the dashboard: the style sheet, headings, pills and tables. Times
are written in WIB (UTC+7), as operators read them."""

from __future__ import annotations

import html
from datetime import datetime

STATE_LABELS = {
    "ok": ("mutakhir / fresh", "#2da44e"),
    "stale": ("terlambat / stale", "#cf222e"),
    "never": ("belum pernah / never", "#57606a"),
}


e = html.escape


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


def pill(text: str, color: str) -> str:
    return f'<span class="pill" style="background:{color}">{e(text)}</span>'


def heading(id_: str, en: str) -> str:
    return f'<h2>{e(id_)} <span class="en">/ {e(en)}</span></h2>'


def html_table(rows: list[dict], cols: list[tuple[str, str]], num: set[str] | None = None) -> str:
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
