"""The dashboard in a real headless browser (Debian's ``chromium``): screenshots at 1280 px and
390 px, nothing wider than the viewport, no personal data. Skipped when chromium is absent
(``scripts/ensure-chromium.sh`` installs it; ``.ci/run`` calls it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from simpul.config import load_config
from simpul.dashboard import build_dashboard
from simpul.orchestration import task_runs
from simpul.warehouse import open_warehouse
from tests.simpul.orchestration.helpers import NAME, NIK, NOW, add_load, add_quarantine

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")

MEASURE = """<script>
(function () {
  var w = document.documentElement.clientWidth, wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > w + 1 && !el.closest('.scroll')) wide.push(el.tagName + '.' + el.className);
  });
  document.body.setAttribute('data-overflow',
    String(document.documentElement.scrollWidth - w) + '|' + wide.slice(0, 5).join(','));
})();
</script></body>"""


def _seed(wh) -> None:
    for day in range(5):  # a few days of runs: history, not one dot per chart
        add_load(
            wh,
            f"siak.penduduk.2026022{day}T010000.a{day}",
            "siak_penduduk",
            hours_ago=24 * (5 - day),
            received=1500 if day == 0 else 40 + day,
            loaded=1450 if day == 0 else 38 + day,
            quarantined=40 if day == 0 else 2,
        )
        add_load(
            wh,
            f"paten.permohonan.2026022{day}T010000.b{day}",
            "paten_permohonan",
            hours_ago=24 * (5 - day) - 3,
            source="paten",
            received=7706 if day == 0 else 1,
            loaded=7700 if day == 0 else 1,
            quarantined=6 if day == 0 else 0,
            duplicate=0,
        )
    add_quarantine(wh, "siak.penduduk.20260224T010000.a4", 12, rule="nik_structure")
    err = ConnectionError("refused")
    ti = type(
        "TI",
        (),
        {
            "dag_id": "simpul_oss_izin",
            "task_id": "extract",
            "run_id": "r1",
            "try_number": 3,
            "max_tries": 2,
        },
    )()
    row = task_runs.task_record({"ti": ti, "run_id": "r1", "exception": err}, "failed")
    task_runs._write_runs(wh, [row])


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-dev-shm-usage",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_renders_without_overflow(simpul_home, tmp_path, width):
    wh = open_warehouse()
    try:
        _seed(wh)
        page = build_dashboard(wh, tmp_path / "dashboard.html", load_config(), NOW)
    finally:
        wh.dispose()
    html = page.read_text(encoding="utf-8")
    assert NIK not in html and NAME not in html and not re.search(r"\b\d{16}\b", html)
    assert "WIB" in html and "Kesehatan" in html and "outbox" in html
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", MEASURE), encoding="utf-8")
    out = _chromium(
        f"--window-size={width},900", "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()
    )
    found = re.search(r'data-overflow="([^"]*)"', out.stdout)
    assert found, out.stderr[-2000:]
    overflow, _, wide = found.group(1).partition("|")
    assert int(overflow) <= 0 and not wide, found.group(1)
    shots = Path(simpul_home) / "screenshots"
    shots.mkdir(exist_ok=True)
    shot = shots / f"dashboard-{width}.png"
    _chromium(f"--window-size={width},2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = Path(__file__).resolve().parents[3] / "var" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / shot.name)  # for a person to look at; var/ is not committed
