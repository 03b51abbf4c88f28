"""Faults outside the hub's control: the agency down (before and in the middle of a sync),
truncated JSON, the PostgreSQL backend killed mid-load, the disk full while landing. Each
gives a clear error, leaves nothing half-done that counts as done, and the rerun recovers."""

from __future__ import annotations

import errno
import os

import pyarrow.parquet as pq
import pytest
import requests
import sqlalchemy as sa

from connectors.base.http import HttpError, RetryPolicy
from simpul import pipeline
from simpul.config import load_config, paths
from simpul.landing import MANIFEST, LandingError
from simpul.warehouse import merge, open_warehouse

from .conftest import set_faults

PIPE = "siak_penduduk"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """Keep the real retry loop (5 attempts) but without its seconds of backoff."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, retry_after: 0.01)


def _cfg():
    cfg = load_config()
    cfg.sources["siak"].page_size = 100
    cfg.sources["siak"].retry_budget_seconds = 1.5  # the outage below outlasts it
    return cfg


def _sealed() -> list[str]:
    root = paths().landing / "siak" / "penduduk"
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).exists())


def _assert_nothing_loaded() -> None:
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penduduk") == 0
        assert wh.scalar("select count(*) from ops.cursors") == 0
        assert wh.scalar("select count(*) from ops.loads") == 0
    finally:
        wh.dispose()


def _assert_complete(world_niks: set[str]) -> None:
    wh = open_warehouse()
    try:
        niks = [r["nik"] for r in wh.query("select nik from core.penduduk")]
        assert len(niks) == len(set(niks)) and set(niks) == world_niks
    finally:
        wh.dispose()


def test_agency_down_fails_clearly_then_recovery_loads_everything(
    siak, siak_env, simpul_home, world_niks
):
    set_faults(siak, error_burst=1000)
    with pytest.raises(HttpError, match=r"unreachable: .* failed after \d+ attempts .*HTTP 503"):
        pipeline.run(PIPE, _cfg())
    assert _sealed() == []
    _assert_nothing_loaded()
    set_faults(siak)  # the agency is back
    assert pipeline.run(PIPE, _cfg())["rows_received"] == len(world_niks)
    _assert_complete(world_niks)


def test_short_outage_and_truncated_json_are_retried_without_an_operator(
    siak, siak_env, simpul_home, world_niks
):
    set_faults(siak, error_burst=2, truncate_requests=2)  # per path: < 5 attempts
    result = pipeline.run(PIPE, _cfg())
    assert result["status"] == "loaded" and result["rows_received"] == len(world_niks)
    _assert_complete(world_niks)


def test_json_truncated_for_good_is_a_clear_error(siak, siak_env, simpul_home):
    set_faults(siak, truncate_requests=1000, paths=["/api/v1/penduduk"])
    with pytest.raises(HttpError, match="truncated or invalid JSON") as err:
        pipeline.run(PIPE, _cfg())
    assert "client_secret" not in str(err.value) and "?" not in str(err.value)  # no query
    assert _sealed() == []
    _assert_nothing_loaded()


def test_agency_goes_down_in_the_middle_of_a_sync(
    siak, siak_env, simpul_home, world_niks, monkeypatch
):
    from simpul.landing_resume import PROGRESS, PartialDelivery

    real_append = PartialDelivery.append

    def append(self, *a, **k):
        real_append(self, *a, **k)
        if self.state["pages_landed"] == 1:
            set_faults(siak, error_burst=1000)

    monkeypatch.setattr(PartialDelivery, "append", append)
    with pytest.raises(HttpError, match="HTTP 503"):
        pipeline.run(PIPE, _cfg())
    assert _sealed() == []  # the first pages never count as a delivery
    leftovers = [p for p in (paths().landing / "siak" / "penduduk").glob("*/*")]
    names = sorted(p.name for p in leftovers if p.name != ".run.lock")
    assert names == [PROGRESS, "parts"]  # kept to resume; no data file, no manifest
    _assert_nothing_loaded()
    monkeypatch.setattr(PartialDelivery, "append", real_append)
    set_faults(siak)
    result = pipeline.run(PIPE, _cfg())
    assert result["rows_received"] == len(world_niks) and result["pull_runs"] == 2
    _assert_complete(world_niks)


@pytest.mark.postgres
def test_postgres_backends_terminated_mid_load_then_rerun_recovers(
    siak_env, simpul_home, pg_url, monkeypatch, world_niks
):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    ex = pipeline.extract(PIPE, _cfg())
    pipeline.transform(PIPE, ex["load_id"], _cfg())
    db = sa.engine.make_url(pg_url).database
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    real_apply = merge.apply_versions
    killed: list[int] = []

    def apply_versions(*a, **k):
        with admin.connect() as conn:  # what a server restart does to every session
            killed.extend(
                r[0]
                for r in conn.execute(
                    sa.text(
                        "select pg_terminate_backend(pid) from pg_stat_activity "
                        "where datname = :db and pid <> pg_backend_pid()"
                    ),
                    {"db": db},
                )
            )
        return real_apply(*a, **k)

    monkeypatch.setattr(merge, "apply_versions", apply_versions)
    with pytest.raises(sa.exc.OperationalError, match="terminat"):
        pipeline.load(PIPE, ex["load_id"], _cfg())
    assert killed
    admin.dispose()
    monkeypatch.setattr(merge, "apply_versions", real_apply)
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penduduk") == 0
        assert wh.scalar("select count(*) from ops.loads") == 0
    finally:
        wh.dispose()
    result = pipeline.load(PIPE, ex["load_id"], _cfg())  # the rerun of the failed task
    assert result["status"] == "loaded" and result["rows_loaded"] == len(world_niks)
    _assert_complete(world_niks)
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from raw.siak_penduduk") == len(world_niks)
    finally:
        wh.dispose()


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_landing_data(siak_env, simpul_home, world_niks):
    with (
        pytest.MonkeyPatch.context() as mp,
        pytest.raises(LandingError, match="No space left on device") as err,
    ):
        mp.setattr(pq.ParquetWriter, "write_batch", _enospc)
        pipeline.run(PIPE, _cfg())
    assert "cannot write landed data" in str(err.value)
    assert _sealed() == []
    assert not list((paths().landing / "siak" / "penduduk").glob("*/data.parquet*"))
    _assert_nothing_loaded()
    assert pipeline.run(PIPE, _cfg())["rows_received"] == len(world_niks)
    _assert_complete(world_niks)


def test_disk_full_while_sealing_the_manifest(siak_env, simpul_home, world_niks):
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(MANIFEST + ".partial"):
            _enospc()
        return real_fsync(fd)

    with (
        pytest.MonkeyPatch.context() as mp,
        pytest.raises(LandingError, match="cannot seal the delivery: No space left"),
    ):
        mp.setattr(os, "fsync", fsync)
        pipeline.run(PIPE, _cfg())
    assert _sealed() == []
    assert not list((paths().landing / "siak").glob("*/*/" + MANIFEST + "*"))
    _assert_nothing_loaded()
    assert pipeline.run(PIPE, _cfg())["rows_received"] == len(world_niks)
    _assert_complete(world_niks)


def test_cli_reports_a_full_disk_in_one_line(siak_env, simpul_home, monkeypatch, capsys):
    from simpul.cli import main

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", _enospc)
    assert main(["run", PIPE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simpul: error: ") and "No space left on device" in err
    assert "\n" not in err and "Traceback" not in err


def test_requests_never_carry_the_secret_in_the_url(siak, siak_env, simpul_home):
    """The client secret goes in the login body only: URLs end up in logs and proxies."""
    seen: list[str] = []
    real = requests.Session.request

    def spy(self, method, url, *a, **k):
        seen.append(url + " " + str(k.get("params") or ""))
        return real(self, method, url, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(requests.Session, "request", spy)
        pipeline.run(PIPE, _cfg())
    assert seen and not any(siak_env["SIMPUL_SIAK_CLIENT_SECRET"] in s for s in seen)
