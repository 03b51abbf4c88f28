"""A SIAK pull over a flaky link, through the fault-injecting proxy (real TCP resets, bodies cut
off mid-transfer, 503s from the "gateway", a 40-second outage, a link that goes dead).

- One run rides out 10 % 503 / 5 % resets / 5 % truncation and a 40 s outage mid-pull, loads
  every resident, and transfers at most 1.1x the bytes of a clean pull.
- A link dead from page K: the run fails with the bilingual message naming the agency and how
  far it got; nothing is loaded; the rerun fetches from page K on (the proxy's request log shows
  no page before K again) and loads every resident.
"""

from __future__ import annotations

import math
import time

import pyarrow.parquet as pq
import pytest

from connectors.base.http import SourceUnreachableError
from simpul import pipeline
from simpul.config import load_config, paths
from simpul.landing import MANIFEST, find_manifest
from simpul.simulators.flaky_proxy import FlakyProxy
from simpul.warehouse import open_warehouse

PIPE = "siak_penduduk"
AGENCY = "Disdukcapil OKU Timur"
PAGE = 25  # 600 residents: 24 pages, a request count where every fault kind shows up


@pytest.fixture
def proxy(siak, siak_env, monkeypatch):
    p = FlakyProxy(siak.url).start()
    monkeypatch.setenv("SIMPUL_SIAK_URL", p.url)  # the hub talks to the agency via the link
    try:
        yield p
    finally:
        p.stop()


def _cfg(budget: float, timeout: float = 3.0, backoff_max: float = 4.0):
    cfg = load_config()
    s = cfg.sources["siak"]
    s.page_size = PAGE
    s.retry_budget_seconds = budget
    s.timeout_seconds = timeout
    s.connect_timeout_seconds = 2.0
    s.retry_backoff_max_seconds = backoff_max
    return cfg


def _sealed() -> list[str]:
    root = paths().landing / "siak" / "penduduk"
    return (
        sorted(p.name for p in root.iterdir() if (p / MANIFEST).exists()) if root.exists() else []
    )


def _core_niks() -> list[str]:
    wh = open_warehouse()
    try:
        return [r["nik"] for r in wh.query("select nik from core.penduduk")]
    finally:
        wh.dispose()


def _pages_fetched(proxy: FlakyProxy) -> list[int]:
    return [int(r.query.get("page", ["1"])[0]) for r in proxy.log if r.path == "/api/v1/penduduk"]


def test_pull_rides_out_a_flaky_link_and_a_40_second_outage_in_one_run(
    proxy, simpul_home, tmp_path, monkeypatch, world_niks
):
    # the same pull over a clean link, in a home of its own: the byte baseline
    clean_home = tmp_path / "clean"
    clean_home.mkdir()
    monkeypatch.setenv("SIMPUL_HOME", str(clean_home))
    clean = pipeline.extract(PIPE, _cfg(budget=60))
    assert clean["rows"] == len(world_niks) and clean["bytes_transferred"] > 0
    monkeypatch.setenv("SIMPUL_HOME", str(simpul_home))

    proxy.configure(
        seed=7,
        error_rate=0.10,
        reset_rate=0.05,
        truncate_rate=0.05,
        outage_after=10,  # around page 8 of 24
        outage_s=40.0,
        outage_mode="blackhole",  # nothing answers: the hub sees read timeouts
    )
    started = time.monotonic()
    result = pipeline.run(PIPE, _cfg(budget=120))
    took = time.monotonic() - started

    assert result["status"] == "loaded" and result["pull_runs"] == 1  # ONE run
    assert result["rows_received"] == len(world_niks)
    niks = _core_niks()
    assert len(niks) == len(set(niks)) and set(niks) == world_niks  # every resident, once
    faults = proxy.faults()
    assert {"error", "reset", "truncate", "outage"} <= set(faults), faults
    outage = [r.at for r in proxy.log if r.fault == "outage"]
    assert outage[-1] - outage[0] >= 30 and took >= 40  # the outage was really sat out
    ratio = result["bytes_transferred"] / clean["bytes_transferred"]
    print(f"flaky pull: {took:.0f} s, faults {faults}, bytes {ratio:.3f}x of a clean pull")
    assert ratio <= 1.1, (result["bytes_transferred"], clean["bytes_transferred"], faults)


def test_dead_link_fails_clearly_then_the_rerun_resumes_at_the_page_it_stopped(
    proxy, simpul_home, world_niks
):
    k = 9  # the link dies when page 9 of 24 is asked for
    proxy.configure(
        paths=("/api/v1/penduduk",),
        outage_after=k + 1,  # request 1 is the deletion feed, then page 1 ...
        outage_s=math.inf,
        outage_mode="refuse",
    )
    with pytest.raises(SourceUnreachableError) as err:
        pipeline.run(PIPE, _cfg(budget=3.0, backoff_max=1.0))
    msg = str(err.value)
    assert f"{AGENCY} unreachable" in msg and f"{AGENCY} tidak dapat dihubungi" in msg
    assert f"{k - 1} page(s) of 24 received, {(k - 1) * PAGE} rows" in msg
    assert f"{k - 1} halaman dari 24 diterima, {(k - 1) * PAGE} baris" in msg
    assert "next run continues" in msg and "melanjutkan" in msg
    assert "connection reset" in msg and "/api/v1/penduduk" in msg
    assert _sealed() == []  # nothing half-pulled counts as a delivery
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from ops.loads") == 0
        assert wh.scalar("select count(*) from ops.cursors") == 0
    finally:
        wh.dispose()
    fetched = _pages_fetched(proxy)
    assert fetched[: k - 1] == list(range(1, k)) and set(fetched[k - 1 :]) == {k}  # retried
    from simpul.status import status_report

    waiting = status_report().split("Pulls waiting to resume", 1)[1]
    assert f"{(k - 1) * PAGE}" in waiting.split("\n\n")[0]  # the rows landed so far

    proxy.log.clear()
    proxy.configure()  # the link is back
    result = pipeline.run(PIPE, _cfg(budget=3.0, backoff_max=1.0))
    assert result["status"] == "loaded" and result["pull_runs"] == 2
    assert result["rows_received"] == len(world_niks)
    assert set(_core_niks()) == world_niks
    fetched = _pages_fetched(proxy)
    assert fetched == list(range(k, 25))  # pages < k were not fetched again
    assert not [r for r in proxy.log if r.path.endswith("/deleted")]  # landed the first time

    # the stream's cursor moves only to the last change landed before the break, so a row
    # that slipped back across the page boundary meanwhile is read again by the next run
    landed = pq.read_table(find_manifest(paths().landing, result["load_id"]).file)
    before_break = max(landed.column("UPDATED_AT").to_pylist()[: (k - 1) * PAGE])
    wh = open_warehouse()
    try:
        cursor = wh.scalar("select cursor_value from ops.cursors where stream = 'penduduk'")
        row = wh.query(
            "select bytes_transferred, pull_runs from ops.loads where load_id = :i",
            {"i": result["load_id"]},
        )[0]
    finally:
        wh.dispose()
    assert cursor == before_break
    assert row["pull_runs"] == 2 and row["bytes_transferred"] > 0
    report = status_report()
    assert "transferred" in report and " KB" in report


def test_cli_reports_an_unreachable_agency_in_one_bilingual_line(
    proxy, simpul_home, tmp_path, monkeypatch, capsys
):
    import yaml

    from simpul.cli import main
    from simpul.config import DEFAULT_CONFIG

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["sources"]["siak"].update(retry_budget_seconds=2, retry_backoff_max_seconds=0.5)
    config = tmp_path / "simpul.yaml"
    config.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SIMPUL_CONFIG", str(config))
    proxy.configure(outage_after=1, outage_s=math.inf)  # dead from the first request
    assert main(["run", PIPE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simpul: error: ") and "\n" not in err and "Traceback" not in err
    assert f"{AGENCY} unreachable" in err and f"{AGENCY} tidak dapat dihubungi" in err
