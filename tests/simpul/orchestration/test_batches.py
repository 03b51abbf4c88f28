"""Marts and padan once per batch of loads, never missing the last load of a batch (both
engines)."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, timedelta

import pytest

from simpul.orchestration import batches, dags, ops_dags
from simpul.warehouse import open_warehouse
from tests.simpul.orchestration.helpers import NOW, add_load


@pytest.fixture
def fake_marts(monkeypatch):
    """A marts module that records which loads each build saw in core, with a hook that runs
    mid-build (a load committing while the marts are being built). Like the real build it
    records what it included (read as it began) under ``marts``, and that it published."""
    import simpul.warehouse.marts as real
    from simpul.warehouse.marts_changes import CONSUMER, PUBLISHED

    fake = types.ModuleType("simpul.warehouse.marts")
    fake.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    fake.builds = []
    fake.during = []

    def build_marts(wh):
        started, seen = datetime.now(UTC), batches.committed_loads(wh)
        fake.builds.append(set(seen))
        while fake.during:
            fake.during.pop(0)(wh)
        batches.record_build(wh, CONSUMER, [*seen, PUBLISHED], started)
        return {"tables": 1}

    fake.build_marts = build_marts
    monkeypatch.setitem(sys.modules, "simpul.warehouse.marts", fake)
    return fake


def _load(load_id: str, status: str = "loaded", minutes_ago: float = 30) -> None:
    wh = open_warehouse()
    try:
        add_load(wh, load_id, "siak_penduduk", hours_ago=minutes_ago / 60, status=status)
    finally:
        wh.dispose()


def _triggered(load_ids: list[str]):
    from airflow.sdk.exceptions import AirflowSkipException

    try:
        return ops_dags.run_build_marts(load_ids, only_if_uncovered=True)
    except AirflowSkipException as exc:
        return f"skipped: {exc}"


def test_a_batch_of_loads_builds_the_marts_once(warehouse_url, fake_marts):
    # a morning batch: the first load's run builds after the batch committed ...
    for lid in ("a", "b", "c"):
        _load(lid)
    first = _triggered(["a"])
    assert isinstance(first, dict) and len(fake_marts.builds) == 1
    assert fake_marts.builds[0] == {"a", "b", "c"}
    # ... and the runs queued by the other loads' events find them already included
    for lid in ("b", "c"):
        out = _triggered([lid])
        assert out.startswith("skipped:") and "already in an earlier marts run" in out
        assert "sudah termasuk" in out
    assert len(fake_marts.builds) == 1


def test_the_last_load_of_a_batch_is_never_missed(warehouse_url, fake_marts):
    _load("a")
    # load "d" commits while the build is running: the build did not read it
    fake_marts.during.append(lambda wh: add_load(wh, "d", "siak_penduduk", hours_ago=0))
    _triggered(["a"])
    assert fake_marts.builds == [{"a"}]
    # so d's own run builds again, and now sees it
    out = _triggered(["d"])
    assert isinstance(out, dict)
    assert fake_marts.builds[-1] == {"a", "d"}
    assert _triggered(["d"]).startswith("skipped:")


def test_a_failed_build_includes_nothing(warehouse_url, fake_marts):
    _load("a")

    def boom(wh):
        raise RuntimeError("marts failed")

    fake_marts.during.append(boom)
    with pytest.raises(RuntimeError):
        _triggered(["a"])
    assert isinstance(_triggered(["a"]), dict)  # the retry builds, not skips
    assert len(fake_marts.builds) == 2


def test_a_manual_run_always_builds(warehouse_url, fake_marts):
    _load("a")
    ops_dags.run_build_marts([])
    ops_dags.run_build_marts([])
    assert len(fake_marts.builds) == 2


def test_settle_waits_for_a_quiet_interval_bounded_by_the_limit(warehouse_url, monkeypatch):
    monkeypatch.setenv(batches.QUIET_ENV, "60")
    monkeypatch.setenv(batches.MAX_WAIT_ENV, "600")
    wh = open_warehouse()
    try:
        assert batches.settle(wh, waited=0, now=NOW).done  # no load at all
        add_load(wh, "a", "siak_penduduk", hours_ago=10 / 3600)  # finished 10 s ago
        busy = batches.settle(wh, waited=30, now=NOW)
        assert not busy.done and "waiting" in busy.reason_en and "menunggu" in busy.reason_id
        assert batches.settle(wh, waited=601, now=NOW).done  # never starved
        later = NOW + timedelta(seconds=55)
        assert batches.settle(wh, waited=0, now=later).done
    finally:
        wh.dispose()


def test_settle_sensor_manual_runs_do_not_wait(simpul_home):
    assert ops_dags.settle_batch({}).is_done


def test_settle_sensor_waits_after_a_fresh_load(simpul_home, monkeypatch):
    monkeypatch.setenv(batches.QUIET_ENV, "60")
    now = datetime.now(UTC)
    wh = open_warehouse()
    try:
        add_load(wh, "a", "siak_penduduk", hours_ago=(NOW - now).total_seconds() / 3600)
    finally:
        wh.dispose()
    run = types.SimpleNamespace(start_date=now)
    ctx = {"triggering_asset_events": {"x": [object()]}, "dag_run": run}
    assert not ops_dags.settle_batch(ctx).is_done
    monkeypatch.setenv(batches.QUIET_ENV, "0")
    assert ops_dags.settle_batch(ctx).is_done


def test_marts_dag_settles_without_the_pool(monkeypatch):
    from simpul.config import load_config

    dag = ops_dags.marts_dag(load_config())
    settle, build = dag.get_task("settle"), dag.get_task("build_marts")
    assert build.pool == dags.WAREHOUSE_POOL and settle.pool != dags.WAREHOUSE_POOL
    assert settle.mode == "reschedule"
    assert build.upstream_task_ids == {"settle"}


def test_padan_skips_loads_an_earlier_run_included(warehouse_url, monkeypatch):
    import simpul.padan.store as store

    runs = []

    def fake_run_padan(wh):
        runs.append(set(batches.committed_loads(wh)))
        return {"status": "ok", "model_version": "v1", "seconds": 0.1, "counts": []}

    monkeypatch.setattr(store, "run_padan", fake_run_padan)
    _load("a")
    _load("b")
    assert ops_dags.run_padan_task(["a"], only_if_uncovered=True)["status"] == "ok"
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="earlier padan run"):
        ops_dags.run_padan_task(["b"], only_if_uncovered=True)
    # marts coverage is its own: padan having seen "a" does not skip the marts
    wh = open_warehouse()
    try:
        assert batches.uncovered(wh, "marts", ["a"]) == ["a"]
    finally:
        wh.dispose()
    assert runs == [{"a", "b"}]


def test_padan_dag_settles_without_the_pool():
    from simpul.config import load_config

    dag = ops_dags.padan_dag(load_config())
    settle, link = dag.get_task("settle"), dag.get_task("link_people")
    assert link.pool == dags.WAREHOUSE_POOL and settle.pool != dags.WAREHOUSE_POOL
    assert link.upstream_task_ids == {"settle"}
