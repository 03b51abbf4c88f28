"""Operator commands: dashboard, freshness, release, backfill, alerts test, audit trail."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

import simpul.pipeline
from simpul.orchestration import audit
from simpul.orchestration.cli import add_parser, parse_when
from simpul.warehouse import open_warehouse
from tests.simpul.orchestration.helpers import add_load

HELD = "siak.penduduk.20260228T010000.aaaa0002"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="simpul")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def seeded(simpul_home):
    wh = open_warehouse()
    add_load(wh, HELD, "siak_penduduk", hours_ago=1, status="held", loaded=0, quarantined=0)
    add_load(wh, "siak.penduduk.20260227T010000.aaaa0001", "siak_penduduk", hours_ago=30)
    wh.dispose()
    return simpul_home


def test_dashboard_command_writes_the_default_file(seeded, capsys):
    assert run(["dashboard"]) == 0
    out = seeded / "reports" / "dashboard.html"
    assert out.exists() and str(out) in capsys.readouterr().out
    assert run(["dashboard", "--out", str(seeded / "x.html")]) == 0
    assert (seeded / "x.html").exists()


def test_freshness_command(seeded, capsys):
    assert run(["freshness"]) == 0
    out = capsys.readouterr().out
    assert "siak_penduduk" in out and "state" in out


def test_release_calls_the_pipeline_and_is_audited(seeded, monkeypatch, capsys):
    calls = []

    def fake_release(name, load_id, reviewer):
        calls.append((name, load_id, reviewer))
        return {
            "load_id": load_id,
            "status": "loaded",
            "rows_received": 100,
            "rows_loaded": 60,
            "rows_quarantined": 38,
            "rows_duplicate": 2,
        }

    monkeypatch.setattr(simpul.pipeline, "release", fake_release, raising=False)
    monkeypatch.setenv("SIMPUL_OPERATOR", "op.martapura")
    assert run(["release", HELD, "--note", "checked with Disdukcapil"]) == 0
    assert calls == [("siak_penduduk", HELD, "op.martapura")]
    (entry,) = audit.read()
    assert entry["command"] == "release" and entry["outcome"] == "loaded"
    assert entry["operator"] == "op.martapura" and entry["load_id"] == HELD
    assert entry["args"]["note"] == "checked with Disdukcapil"
    lines = (seeded / "audit" / "operator.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["pipeline"] == "siak_penduduk"


def test_release_refuses_a_load_that_is_not_held_and_audits_the_refusal(
    seeded, capsys, monkeypatch
):
    monkeypatch.setattr(simpul.pipeline, "release", lambda *a: pytest.fail("called"), raising=False)
    assert run(["release", "siak.penduduk.20260227T010000.aaaa0001"]) == 2
    err = capsys.readouterr().err
    assert "only a held load" in err and "hanya muatan yang ditahan" in err
    assert run(["release", "siak.penduduk.20990101T000000.ffffffff"]) == 2
    assert [e["outcome"] for e in audit.read()] == ["error", "error"]


def test_release_without_pipeline_support_is_a_clear_error(seeded, capsys, monkeypatch):
    monkeypatch.delattr(simpul.pipeline, "release", raising=False)
    assert run(["release", HELD]) == 2
    assert "simpul.pipeline.release" in capsys.readouterr().err


def test_backfill_passes_the_window_and_is_audited(seeded, monkeypatch):
    seen = {}

    def fake_backfill(name, *, since, until):
        seen.update(name=name, since=since, until=until)
        return {
            "load_id": "siak.penduduk.20260301T000000.cccc0001",
            "status": "loaded",
            "rows_received": 5,
        }

    monkeypatch.setattr(simpul.pipeline, "backfill", fake_backfill, raising=False)
    assert (
        run(
            [
                "backfill",
                "siak_penduduk",
                "--since",
                "2026-01-01",
                "--until",
                "2026-02-01T00:00+00:00",
            ]
        )
        == 0
    )
    assert seen["since"] == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=-7)
    assert seen["until"] == datetime(2026, 2, 1, tzinfo=UTC)
    (entry,) = audit.read()
    assert entry["command"] == "backfill" and entry["load_id"].startswith("siak.penduduk")
    assert entry["args"]["since"] == "2026-01-01T00:00:00+07:00"


def test_backfill_rejects_an_empty_window_and_unknown_pipelines(seeded, monkeypatch, capsys):
    monkeypatch.setattr(simpul.pipeline, "backfill", lambda *a, **k: {}, raising=False)
    assert run(["backfill", "siak_penduduk", "--since", "2026-02-01", "--until", "2026-01-01"]) == 2
    assert run(["backfill", "nope", "--since", "2026-02-01"]) == 2
    assert "siak_penduduk" in capsys.readouterr().err  # names the known pipelines
    assert [e["outcome"] for e in audit.read()] == ["error", "error"]


def test_parse_when_defaults_to_wib():
    assert parse_when("2026-01-01").utcoffset() == timedelta(hours=7)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_when("1 Januari")


def test_alerts_test_command(simpul_home, webhook, capsys):
    assert run(["alerts", "test"]) == 0
    assert webhook.received[0]["kind"] == "test"
    assert "sent" in capsys.readouterr().out


def test_alerts_test_without_channels(simpul_home, monkeypatch, capsys):
    monkeypatch.delenv("SIMPUL_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SIMPUL_ALERT_SMTP_HOST", raising=False)
    assert run(["alerts", "test"]) == 2
    assert "SIMPUL_ALERT_WEBHOOK_URL" in capsys.readouterr().err


def test_audit_command_lists_entries(seeded, capsys):
    audit.record("release", outcome="loaded", load_id=HELD, args={"reviewer": "x"})
    assert run(["audit"]) == 0
    assert HELD in capsys.readouterr().out


def test_audit_goes_to_ops_audit_when_the_table_exists(simpul_home):
    wh = open_warehouse()  # migration 8 creates ops.audit
    try:
        audit.record("release", outcome="loaded", load_id=HELD, args={"reviewer": "x"}, wh=wh)
        rows = wh.query("select command, load_id, outcome from ops.audit")
    finally:
        wh.dispose()
    assert rows == [{"command": "release", "load_id": HELD, "outcome": "loaded"}]
