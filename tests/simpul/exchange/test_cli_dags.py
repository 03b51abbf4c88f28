"""The exchange CLI group and the Airflow DAGs built from the agreements."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest

from simpul.exchange import service
from simpul.exchange.cli import add_parser

from .conftest import NIK_DIFF, T0, agreements_for


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="simpul")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_plan_prints_who_receives_what(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["exchange", "plan"]) == 0
    out = capsys.readouterr().out
    assert "default deny" in out and "penduduk_selisih_siak" in out and "ckan" in out


def test_verify_and_audit_commands(
    wh: Any,
    simpul_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreements = agreements_for({})
    result = service.run(wh, agreements, agreement_id="dukcapil", now=T0)
    delivered = simpul_home / "drop" / "dukcapil" / result["queued"][0]["delivery_id"]
    wh.dispose()  # DuckDB: one writer; the CLI opens its own connection
    assert _cli(["exchange", "verify", str(delivered)]) == 0
    assert "SAH / VALID" in capsys.readouterr().out
    (delivered / "penduduk_selisih_siak.csv").write_text("nik\n")
    assert _cli(["exchange", "verify", str(delivered)]) == 1
    assert "INVALID" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(NIK_DIFF + "\n"))
    assert _cli(["exchange", "audit", "--agency", "disdukcapil", "--nik-stdin"]) == 0
    out = capsys.readouterr().out
    assert result["queued"][0]["delivery_id"] in out and NIK_DIFF not in out


def test_one_dag_per_agreement() -> None:
    from simpul.exchange.dags import MARTS_ASSET, build_exchange_dags

    dags = build_exchange_dags(None)
    assert "simpul_exchange_satudata_agregat_penduduk" in dags
    assert "simpul_exchange_outbox" in dags
    satudata = dags["simpul_exchange_satudata_agregat_penduduk"]
    assert type(satudata.timetable).__name__ == "AssetTriggeredTimetable"
    assert MARTS_ASSET.uri in str(satudata.timetable.asset_condition)
    weekly = dags["simpul_exchange_dinsos_meninggal_penerima_bantuan"]
    assert "Cron" in type(weekly.timetable).__name__
    for dag in dags.values():
        assert "exchange" in dag.tags and dag.max_active_runs == 1
        assert all(t.owner == "simpul" for t in dag.tasks)
