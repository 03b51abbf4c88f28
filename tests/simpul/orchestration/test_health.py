"""Health bookkeeping: task tries in ops, problems in two languages, a busy DuckDB file,
errors that name the agency, schedule-following freshness, warehouse de-duplication."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from simpul.config import load_config
from simpul.orchestration import health, task_runs
from simpul.orchestration.causes import classify, safe_url, source_error
from simpul.warehouse import open_warehouse


class _TI:
    def __init__(self, try_number: int, task_id: str = "extract"):
        self.dag_id = "simpul_siak_penduduk"
        self.task_id = task_id
        self.run_id = "scheduled__2026-11-30T01:00:00+07:00"
        self.try_number = try_number
        self.max_tries = 2


def _context(try_number: int, exc: BaseException | None) -> dict:
    ti = _TI(try_number)
    return {"ti": ti, "run_id": ti.run_id, "exception": exc}


def _refused() -> BaseException:
    cfg = load_config()
    try:
        requests.get("http://user:pw@127.0.0.1:9/api/v1/token?secret=x", timeout=2)
    except requests.ConnectionError as exc:
        err = source_error(exc, cfg, "siak")
        assert err is not None
        return err
    raise AssertionError("port 9 answered")


def test_tries_are_recorded_and_the_last_run_reads_failed(simpul_home, monkeypatch):
    monkeypatch.setenv("SIMPUL_SIAK_URL", "http://127.0.0.1:9")
    err = _refused()
    task_runs.on_task_retry(_context(1, err))
    task_runs.on_task_failure(_context(2, err))
    wh = open_warehouse()
    try:
        h = health.collect(wh)
    finally:
        wh.dispose()
    siak = next(p for p in h.pipelines if p["pipeline"] == "siak_penduduk")
    assert siak["run_state"] == "failed" and siak["failed_tries"] == 2
    assert siak["error_id"].startswith("SIAK (Disdukcapil OKU Timur) tidak dapat dihubungi di")
    (line,) = [x for x in health.problems(h) if x.startswith("[siak_penduduk]")]
    assert "http://127.0.0.1:9" in line and "unreachable at" in line
    assert "pw" not in line and "secret" not in line

    # the next run succeeds: the pipeline is healthy again
    ok = _context(1, None)
    ok["run_id"] = ok["ti"].run_id = "manual__later"
    task_runs.on_task_success(ok)
    wh = open_warehouse()
    try:
        h = health.collect(wh)
    finally:
        wh.dispose()
    siak = next(p for p in h.pipelines if p["pipeline"] == "siak_penduduk")
    assert siak["run_state"] == "success" and siak["failed_tries"] == 0


HOLD = """
import sys, time, duckdb
c = duckdb.connect(sys.argv[1]); c.execute("select 1")
print("locked", flush=True); time.sleep(float(sys.argv[2]))
"""


def _hold(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_status_reads_a_snapshot_while_a_load_holds_duckdb(simpul_home, monkeypatch, capsys):
    from simpul.cli import main

    open_warehouse().dispose()
    monkeypatch.setenv("SIMPUL_STATUS_WAIT_SECONDS", "1")
    proc = _hold(simpul_home / "warehouse.duckdb", 60)
    try:
        code = main(["status", "--check"])
    finally:
        proc.kill()
        proc.wait()
    out = capsys.readouterr()
    assert code == 0, out
    assert "status read from a copy taken now" in out.out
    assert "IOException" not in out.out + out.err and "Conflicting" not in out.out + out.err


def test_a_task_run_is_spooled_while_busy_and_drained_later(simpul_home):
    open_warehouse().dispose()
    proc = _hold(simpul_home / "warehouse.duckdb", 60)
    try:
        row = task_runs.task_record(_context(1, ValueError("boom")), "up_for_retry")
        assert task_runs.record_task_run(row, wait=0.5) == "spool"
    finally:
        proc.kill()
        proc.wait()
    assert len(health.read_spool()) == 1
    task_runs.on_task_failure(_context(2, ValueError("boom")))
    assert health.read_spool() == []
    wh = open_warehouse()
    try:
        n = wh.scalar("select count(*) from ops.task_runs")
    finally:
        wh.dispose()
    assert n == 2


def test_the_warehouse_waits_for_a_short_lock(simpul_home):
    open_warehouse().dispose()
    proc = _hold(simpul_home / "warehouse.duckdb", 2)
    started = time.monotonic()
    try:
        wh = open_warehouse(wait=60)
        wh.dispose()
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - started < 60


def test_land_no_longer_relabels_a_connection_error(tmp_path):
    from simpul.landing import LandingError, land

    def batches():
        yield pa.record_batch({"a": ["1"]})
        raise requests.ConnectionError("Connection refused")

    with pytest.raises(requests.ConnectionError):
        land(batches(), root=tmp_path, source="siak", stream="penduduk")
    assert not list(tmp_path.rglob("*.partial"))
    assert LandingError  # write errors are still LandingError (tests/reliability)


@pytest.mark.parametrize(
    ("exc", "kind", "transient"),
    [
        (requests.ConnectionError("refused"), "unreachable", True),
        (requests.Timeout("slow"), "timeout", True),
        (requests.exceptions.SSLError("cert"), "tls", False),
        (ConnectionRefusedError(111, "refused"), "unreachable", True),
        (FileNotFoundError(2, "no such folder"), "drop_missing", False),
        (ValueError("row 7"), None, None),
    ],
)
def test_classify(exc, kind, transient):
    got = classify(exc)
    assert (got or (None, None)) == (kind, transient)


def test_http_errors_from_the_client_are_classified():
    from connectors.base.http import HttpError

    assert classify(HttpError("GET /api failed: HTTP 401")) == ("auth", False)
    assert classify(HttpError("GET /api failed: HTTP 404")) == ("not_found", False)
    assert classify(HttpError("GET /api failed after 5 attempts: HTTP 503")) == ("http", True)
    assert classify(HttpError("GET /api failed after 5 attempts: ConnectionError")) == (
        "unreachable",
        True,
    )


def test_safe_url_drops_credentials_and_query():
    assert safe_url("https://u:p@siak.example/api?token=x#f") == "https://siak.example/api"
    assert safe_url("postgresql://paten:rahasia@db:5432/paten") == "postgresql://db:5432/paten"


def test_freshness_follows_each_pipelines_schedule(simpul_home):
    from simpul.orchestration.freshness import freshness_report

    wh = open_warehouse()
    try:
        rows = {r["pipeline"]: r for r in freshness_report(wh, load_config())}
    finally:
        wh.dispose()
    assert rows["siak_penduduk"]["freshness_hours"] == 26  # ops.yaml, daily
    assert rows["dinsos_penerima_bantuan"]["freshness_hours"] == 176.4  # weekly
    assert rows["paten_permohonan"]["freshness_hours"] == 3.0  # hourly


def test_due_is_kept_in_the_warehouse(simpul_home):
    from simpul.orchestration.alerts import due

    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert due("freshness:siak_penduduk", timedelta(hours=6), now)
    assert not due("freshness:siak_penduduk", timedelta(hours=6), now + timedelta(hours=1))
    wh = open_warehouse()
    try:
        row = wh.query("select * from ops.alerts where alert_key = 'freshness:siak_penduduk'")
    finally:
        wh.dispose()
    assert row and row[0]["kind"] == "freshness"
    assert not (simpul_home / "alerts" / "sent.json").exists()


def test_exchange_problems_are_listed_from_the_outbox():
    h = health.Health(
        exchanges=[
            {
                "agreement": "disdukcapil_penduduk",
                "agency": "Disdukcapil",
                "statuses": {"receipted": 3, "tampered": 1},
                "retrying": 2,
            },
            {"agreement": "bps", "agency": "BPS", "statuses": {"sent": 1, "receipted": 4}},
        ]
    )
    lines = health.problems(h)
    assert len(lines) == 2, lines
    assert lines[0].startswith("[pertukaran disdukcapil_penduduk] 1 kiriman berstatus tampered")
    assert "[exchange disdukcapil_penduduk] 1 deliveries in status tampered" in lines[0]
    assert "2 kiriman gagal dikirim" in lines[1] and "failed to send" in lines[1]
