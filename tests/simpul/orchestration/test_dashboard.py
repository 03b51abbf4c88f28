"""The static dashboard: self-contained, bilingual, charts present, no personal data."""

from __future__ import annotations

import re

import pytest

from simpul.config import load_config
from simpul.dashboard import bar_chart, build_dashboard, collect, line_chart
from simpul.warehouse import open_warehouse
from tests.simpul.orchestration.helpers import NAME, NIK, NOW, add_load, add_quarantine


@pytest.fixture
def wh(warehouse_url):
    wh = open_warehouse(warehouse_url)
    yield wh
    wh.dispose()


def _seed(wh):
    add_load(wh, "siak.penduduk.20260227T010000.aaaa0001", "siak_penduduk", hours_ago=59)
    add_load(
        wh,
        "siak.penduduk.20260228T010000.aaaa0002",
        "siak_penduduk",
        hours_ago=35,
        status="held",
        loaded=0,
        quarantined=0,
    )
    add_quarantine(wh, "siak.penduduk.20260228T010000.aaaa0002", 40)
    add_load(
        wh,
        "opensid.penduduk.20260301T020000.bbbb0001",
        "opensid_penduduk",
        hours_ago=10,
        source="opensid",
        received=50,
        loaded=45,
        quarantined=5,
        duplicate=0,
    )
    add_quarantine(wh, "opensid.penduduk.20260301T020000.bbbb0001", 5, rule="tanggal_lahir")


def test_collect_aggregates(wh):
    _seed(wh)
    data = collect(wh, load_config(), NOW)
    assert [r["status"] for r in data["loads"]] == ["loaded", "held", "loaded"]
    held = data["loads"][1]
    assert held["error_rows"] == 40 and held["error_rate"] == pytest.approx(40 / 98)
    assert sum(r["records"] for r in data["open_quarantine"]) == 45
    assert data["open_by_rule"]["kode_desa_known"] == 45
    fresh = {r["pipeline"]: r for r in data["freshness"]}
    assert fresh["siak_penduduk"]["state"] == "stale"  # held load does not count as fresh
    assert fresh["siak_penduduk"]["age_hours"] == pytest.approx(59)
    assert fresh["opensid_penduduk"]["state"] == "ok"


def test_dashboard_is_self_contained_bilingual_and_free_of_personal_data(wh, tmp_path):
    _seed(wh)
    path = build_dashboard(wh, tmp_path / "out" / "dashboard.html", load_config(), NOW)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 5
    # no scripts, no external resources of any kind
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    # Indonesian first, English second
    for idn, en in [
        ("Muatan dari waktu ke waktu", "Loads over time"),
        ("Kemutakhiran per sumber", "Freshness per source"),
        ("Karantina terbuka", "Open quarantine"),
        ("Tingkat galat kualitas data per sumber", "DQ error rate per source"),
    ]:
        assert page.index(idn) < page.index(en)
    assert "terlambat / stale" in page and "mutakhir / fresh" in page
    # no personal data: no NIK (nor any 16-digit number), no name
    assert NIK not in page and not re.search(r"\d{16}", page)
    for part in NAME.split():
        if len(part) > 4:
            assert part not in page


def test_empty_warehouse_renders(wh, tmp_path):
    page = build_dashboard(wh, tmp_path / "d.html", load_config(), NOW).read_text()
    assert "belum ada muatan / no loads yet" in page


def test_charts_escape_labels_and_handle_single_points():
    svg = line_chart({"<x>": [(NOW, 1.0)]}, title="a & b")
    assert "&lt;x&gt;" in svg and "a &amp; b" in svg and "<x>" not in svg
    assert "<circle" in svg
    bars = bar_chart([("p (s)", 30.0, "#000")], title="t", markers={"p (s)": 26.0})
    assert "stroke-dasharray" not in bars or "marker" in bars
    assert 'class="marker"' in bars
