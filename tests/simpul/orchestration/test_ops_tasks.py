"""The ops task bodies: freshness check with de-duplicated alerts, marts, held-load alerts."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime

import pytest

from simpul.config import load_config
from simpul.orchestration import dags, ops_dags
from simpul.orchestration.freshness import freshness_report, load_ops_settings
from simpul.warehouse import open_warehouse
from tests.simpul.orchestration.helpers import NOW, add_load


def test_ops_settings_default_and_override(tmp_path, monkeypatch):
    assert load_ops_settings().freshness_hours("siak_penduduk") == 26
    assert load_ops_settings().freshness_hours("unknown") == 26
    f = tmp_path / "ops.yaml"
    f.write_text(
        "default_freshness_hours: 48\npipelines:\n  siak_penduduk:\n    freshness_hours: 2\n"
    )
    monkeypatch.setenv("SIMPUL_OPS_CONFIG", str(f))
    s = load_ops_settings()
    assert s.freshness_hours("siak_penduduk") == 2 and s.freshness_hours("x") == 48
    f.write_text("pipelines:\n  siak_penduduk:\n    freshness_hours: -1\n")
    from simpul.config import ConfigError

    with pytest.raises(ConfigError, match="positive"):
        load_ops_settings()


def test_freshness_report_states(simpul_home):
    wh = open_warehouse()
    add_load(wh, "siak.penduduk.20260301T010000.aaaa0001", "siak_penduduk", hours_ago=3)
    report = {r["pipeline"]: r for r in freshness_report(wh, load_config(), now=NOW)}
    wh.dispose()
    assert report["siak_penduduk"]["state"] == "ok"
    assert report["siak_penduduk"]["age_hours"] == pytest.approx(3)
    assert all(r["state"] == "never" for n, r in report.items() if n != "siak_penduduk")


def test_freshness_check_alerts_a_stale_pipeline_once(simpul_home, webhook):
    wh = open_warehouse()
    add_load(wh, "siak.penduduk.20200101T010000.aaaa0001", "siak_penduduk", hours_ago=0)
    wh.query("update ops.loads set loaded_at = :t", {"t": datetime(2020, 1, 1, tzinfo=UTC)})
    wh.dispose()
    report = ops_dags.run_freshness_check()
    stale = [r for r in report if r["state"] == "stale"]
    assert [r["pipeline"] for r in stale] == ["siak_penduduk"]
    assert stale[0]["alerted"] == {"log": "written", "webhook": "sent"}
    (alert,) = webhook.received
    assert alert["kind"] == "freshness" and alert["pipeline"] == "siak_penduduk"
    assert alert["title"].startswith("[Simpul] Data tidak mutakhir / Data is stale")
    ops_dags.run_freshness_check()  # an hour later: the same breach is not re-sent
    assert len(webhook.received) == 1


def test_held_load_sends_an_alert(simpul_home, webhook):
    result = {
        "load_id": "siak.penduduk.20260301T010000.aaaa0001",
        "status": "held",
        "rows_received": 100,
        "message": "held: error rate 0.4 above the gate 0.25",
    }
    dags.after_load("siak_penduduk", result, {"run_id": "scheduled__x"})
    (alert,) = webhook.received
    assert alert["kind"] == "held" and alert["load_id"] == result["load_id"]
    dags.after_load("siak_penduduk", {**result, "status": "loaded"}, {})
    assert len(webhook.received) == 1


def test_marts_skip_clearly_when_the_module_is_missing(monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    monkeypatch.setitem(sys.modules, "simpul.warehouse.marts", None)
    with pytest.raises(AirflowSkipException, match="not available"):
        ops_dags.run_build_marts([])


def test_marts_call_build_marts(simpul_home, monkeypatch):
    fake = types.ModuleType("simpul.warehouse.marts")
    seen = []
    fake.build_marts = lambda wh: seen.append(wh.dialect) or {"tables": 3}
    monkeypatch.setitem(sys.modules, "simpul.warehouse.marts", fake)
    out = ops_dags.run_build_marts(["a"])
    assert seen == ["duckdb"] and out == {"triggered_by": ["a"], "tables": 3}


def test_changed_loads_ignores_held_and_already_loaded():
    ev = types.SimpleNamespace
    events = {
        "core/penduduk": [
            ev(extra={"status": "loaded", "load_id": "a"}),
            ev(extra={"status": "held", "load_id": "b"}),
            ev(extra={"status": "already_loaded", "load_id": "c"}),
        ],
    }
    assert ops_dags.changed_loads(events) == ["a"]


def test_a_held_load_fails_without_retry_and_the_notifier_stays_quiet(simpul_home, webhook):
    from airflow.sdk.exceptions import AirflowFailException

    from simpul.orchestration.causes import describe
    from simpul.orchestration.notifier import SimpulNotifier

    load_id = "siak.penduduk.20260301T010000.aaaa0001"
    result = {
        "load_id": load_id,
        "status": "held",
        "message": "held: 10 rows against 8046 in the last delivery (below 50%) / ditahan: "
        "10 baris dibanding 8046 pada kiriman terakhir (di bawah 50%)",
    }
    dags.fail_held("siak_penduduk", {**result, "status": "loaded"})  # not held: nothing
    with pytest.raises(AirflowFailException) as info:
        dags.fail_held("siak_penduduk", result)
    ind, en = describe(info.value)
    assert en.startswith(f"Delivery {load_id} of pipeline siak_penduduk is HELD")
    assert "10 rows against 8046" in en and f"`simpul release {load_id}" in en
    assert ind.startswith(f"Kiriman {load_id} pipeline siak_penduduk DITAHAN")
    assert "10 baris dibanding 8046" in ind and f"`simpul release {load_id}" in ind
    SimpulNotifier().notify({"exception": info.value, "run_id": "r"})
    assert webhook.received == []  # the held alert comes from after_load, not twice
