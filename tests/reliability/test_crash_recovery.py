"""SIGKILL at every stage boundary and in the middle of the load, then a rerun: the warehouse
ends identical to an uninterrupted run (core tables without load-time columns), with no
duplicate and no missing person. The child process is killed for real (see ``crash.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simpul import pipeline
from simpul.config import load_config, paths
from simpul.landing import MANIFEST
from simpul.warehouse import open_warehouse

from .crash import KILL_POINTS, run_and_kill, snapshot

PIPE = "siak_penduduk"


def _run_in_process() -> dict:
    cfg = load_config()
    cfg.sources["siak"].page_size = 100
    return pipeline.run(PIPE, cfg)


@pytest.fixture(scope="module")
def baseline(siak, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Core tables after one uninterrupted run into a fresh DuckDB warehouse."""
    home = tmp_path_factory.mktemp("baseline_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMPUL_HOME", str(home))
        mp.delenv("SIMPUL_WAREHOUSE_URL", raising=False)
        for k, v in siak.env().items():
            mp.setenv(k, v)
        assert _run_in_process()["status"] == "loaded"
        wh = open_warehouse()
        try:
            return snapshot(wh)
        finally:
            wh.dispose()


def _landed(stream: str = "penduduk") -> list[Path]:
    root = paths().landing / "siak" / stream
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _assert_complete(wh, world_niks: set[str]) -> None:
    assert wh.scalar("select count(*) from core.penduduk") == len(world_niks)
    assert wh.scalar("select count(distinct nik) from core.penduduk") == len(world_niks)
    niks = {r["nik"] for r in wh.query("select nik from core.penduduk")}
    assert niks == world_niks  # no gap, nothing extra
    dup_versions = wh.scalar(
        "select count(*) from (select nik, _source, updated_at, count(*) n "
        "from core.penduduk_versions group by 1, 2, 3 having count(*) > 1) d"
    )
    assert dup_versions == 0
    for load in wh.query("select * from ops.loads where stream = 'penduduk'"):
        if load["status"] == "loaded":
            assert (
                load["rows_loaded"] + load["rows_quarantined"] + load["rows_duplicate"]
                == load["rows_received"]
            )


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_then_rerun_gives_the_uninterrupted_warehouse(
    point, baseline, siak_env, simpul_home, tmp_path, world_niks
):
    run_and_kill(PIPE, point, {"SIMPUL_HOME": str(simpul_home)}, tmp_path)
    wh = open_warehouse()  # DuckDB recovers its WAL; an uncommitted load is simply absent
    try:
        loaded = wh.scalar("select count(*) from ops.loads where status = 'loaded'")
        committed = point == "after_load"
        assert wh.scalar("select count(*) from core.penduduk") == (
            len(world_niks) if committed else 0
        )
        assert loaded == (2 if committed else 0)  # the delivery and its (empty) deletion feed
        # the deletion feed is empty here: only the main stream has a cursor
        assert wh.scalar("select count(*) from ops.cursors") == (1 if committed else 0)
    finally:
        wh.dispose()
    killed = _landed()
    if point == "mid_extract":  # a half-written landing has no manifest: never processed
        assert len(killed) == 1 and not (killed[0] / MANIFEST).exists()
        assert not (killed[0] / "data.parquet").exists()

    assert _run_in_process()["status"] == "loaded"  # the rerun

    wh = open_warehouse()
    try:
        _assert_complete(wh, world_niks)
        assert snapshot(wh) == baseline
        if point in ("after_extract", "after_transform"):
            # the killed delivery is sealed and replayable; replaying it changes nothing
            orphan = killed[0].name
            assert json.loads((killed[0] / MANIFEST).read_text())["row_count"] == len(world_niks)
            assert pipeline.replay(PIPE, orphan)["status"] == "loaded"
            _assert_complete(wh, world_niks)
            assert snapshot(wh) == baseline
    finally:
        wh.dispose()


@pytest.mark.postgres
def test_sigkill_mid_load_on_postgres_leaves_nothing_then_rerun_recovers(
    baseline, siak_env, simpul_home, tmp_path, pg_url, monkeypatch, world_niks
):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    run_and_kill(
        PIPE,
        "mid_load",
        {"SIMPUL_HOME": str(simpul_home), "SIMPUL_WAREHOUSE_URL": pg_url},
        tmp_path,
    )
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penduduk") == 0
        assert wh.scalar("select count(*) from core.penduduk_versions") == 0
        # even the raw table's CREATE was rolled back (PostgreSQL DDL is transactional)
        assert not wh.scalar(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'siak_penduduk'"
        )
        assert wh.scalar("select count(*) from ops.loads") == 0
        assert _run_in_process()["status"] == "loaded"
        _assert_complete(wh, world_niks)
        assert snapshot(wh) == baseline
    finally:
        wh.dispose()
