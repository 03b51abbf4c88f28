"""A static, self-contained HTML monitoring dashboard (``simpul dashboard``).

One HTML file with inline SVG charts drawn here: no CDN, no JavaScript, so it opens from a file
share or an e-mail attachment on an office PC without internet. Labels are Bahasa Indonesia
first, English second. It reads only operational aggregates from ``ops.loads``,
``ops.dq_findings`` and ``ops.quarantine`` (counts, rule names, timestamps, ids); record keys,
record contents and reasons are never selected, so no personal data can reach the page.
"""

from simpul.dashboard.data import collect, rule_labels
from simpul.dashboard.page import build_dashboard, default_path, health_section, render
from simpul.dashboard.svg import bar_chart, line_chart, loads_chart

__all__ = [
    "bar_chart",
    "build_dashboard",
    "collect",
    "default_path",
    "health_section",
    "line_chart",
    "loads_chart",
    "render",
    "rule_labels",
]
