"""SIAK and OSS pipelines against the live simulators (DuckDB): incremental syncs, deletions
soft-deleted in the same load, token refresh mid-sync, schema drift, a crash between landing
and loading, and replay from raw without the agency."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import requests

from connectors.base.contract import ReadResult
from simpul import pipeline
from simpul.config import load_config
from simpul.warehouse import open_warehouse

from .conftest import set_faults


def advance(h, days: int = 7) -> dict:
    return requests.post(f"{h.url}/admin/advance", params={"days": days}, timeout=30).json()


def counts(wh) -> dict[str, int]:
    return {
        t: wh.scalar(f"select count(*) from core.{t}")
        for t in ("penduduk", "keluarga", "peristiwa", "izin")
    }


def test_every_pipeline_syncs_incrementally_with_deletions(sims, small_world) -> None:
    names = ("siak_penduduk", "siak_keluarga", "siak_peristiwa", "oss_izin")
    first = {n: pipeline.run(n) for n in names}
    assert all(r["status"] == "loaded" for r in first.values())
    wh = open_warehouse()
    truth = {
        t: pq.read_metadata(small_world / f"{t}.parquet").num_rows
        for t in ("penduduk", "keluarga", "peristiwa", "izin")
    }
    assert counts(wh) == truth
    changes = advance(sims["siak"])["changes"]
    second = {n: pipeline.run(n) for n in names}
    # only changes (the inclusive cursor re-sends the newest rows of the last run)
    assert 0 < second["siak_penduduk"]["rows_received"] < 30
    assert second["oss_izin"]["rows_received"] <= 2
    after = counts(wh)
    assert after["penduduk"] == truth["penduduk"] + changes["born"]
    assert after["peristiwa"] > truth["peristiwa"]
    deleted = wh.scalar("select count(*) from core.penduduk where _deleted_at is not null")
    assert deleted == changes["deleted"] > 0
    history_closed = wh.scalar(
        "select count(*) from core.penduduk_history h join core.penduduk p using (nik) "
        "where p._deleted_at is not null and h.is_current"
    )
    assert history_closed == 0
    assert wh.scalar(
        "select count(*) from ops.cursors where source = 'siak' and stream = 'penduduk_deleted'"
    )
    third = pipeline.run("siak_penduduk")  # nothing new: deletions re-sent, nothing changes
    assert third["merged"] == 0
    assert counts(wh) == after
    wh.dispose()


def test_siak_token_refresh_mid_sync(sims) -> None:
    cfg = load_config()
    cfg.sources["siak"].page_size = 100
    conn = pipeline.build_connector(cfg, "siak")
    gen = conn.read("penduduk", since=None, result=ReadResult())
    rows = next(gen).num_rows
    requests.post(f"{sims['siak'].url}/admin/revoke-tokens", timeout=5)
    rows += sum(b.num_rows for b in gen)
    assert rows == 600 and conn.http.auth.fetches == 2


def test_removed_mapped_column_stops_the_stream_added_column_is_recorded(sims) -> None:
    pipeline.run("siak_keluarga")
    set_faults(sims["siak"], rename_fields={"NO_RT": "RT"}, paths=["/api/v1/keluarga"])
    ex = pipeline.extract("siak_keluarga", full_refresh=True)
    with pytest.raises(pipeline.PipelineError) as err:
        pipeline.transform("siak_keluarga", ex["load_id"])
    msg = str(err.value)
    assert ex["file"] in msg and "['NO_RT']" in msg and "['RT']" in msg
    assert "schema changed" in msg and "skema berubah" in msg
    wh = open_warehouse()
    stopped = wh.query("select change, column_name, mapped, action from ops.schema_changes")
    assert {"change": "removed", "column_name": "NO_RT", "mapped": True, "action": "stopped"} in (
        stopped
    )
    cursor = wh.scalar("select cursor_value from ops.cursors where stream = 'keluarga'")
    # the next delivery with the same drift stops again: the stream stays stopped
    with pytest.raises(pipeline.PipelineError, match="skema berubah"):
        pipeline.run("siak_keluarga")
    assert wh.scalar("select cursor_value from ops.cursors where stream = 'keluarga'") == cursor

    set_faults(sims["siak"], add_fields={"NO_HP": "0812"}, paths=["/api/v1/keluarga"])
    ex = pipeline.extract("siak_keluarga", full_refresh=True)
    staged = pipeline.transform("siak_keluarga", ex["load_id"])
    assert staged["schema_drift"]["added"] == ["NO_HP"]
    assert staged["schema_drift"]["removed"] == [] and staged["schema_drift"]["action"] == (
        "recorded"
    )
    assert pipeline.load("siak_keluarga", ex["load_id"])["status"] == "loaded"
    rec = wh.query(
        "select change, column_name, action from ops.schema_changes where load_id = :i",
        {"i": ex["load_id"]},
    )
    assert rec == [{"change": "added", "column_name": "NO_HP", "action": "recorded"}]
    wh.dispose()


def test_schema_drift_warn_policy_loads_a_vanished_column_as_empty(sims) -> None:
    cfg = load_config()
    cfg.pipelines["siak_keluarga"].schema_drift = "warn"
    pipeline.run("siak_keluarga", cfg)
    set_faults(sims["siak"], rename_fields={"DUSUN": "NAMA_DUSUN"}, paths=["/api/v1/keluarga"])
    ex = pipeline.extract("siak_keluarga", cfg, full_refresh=True)
    staged = pipeline.transform("siak_keluarga", ex["load_id"], cfg)
    assert staged["schema_drift"]["mapped"] == ["DUSUN"]
    assert staged["schema_drift"]["action"] == "warned"
    assert pipeline.load("siak_keluarga", ex["load_id"], cfg)["status"] == "loaded"
    # a key column is never optional
    set_faults(sims["siak"], rename_fields={"NO_KK": "NOMOR_KK"}, paths=["/api/v1/keluarga"])
    ex = pipeline.extract("siak_keluarga", cfg, full_refresh=True)
    with pytest.raises(pipeline.PipelineError, match="NO_KK"):
        pipeline.transform("siak_keluarga", ex["load_id"], cfg)


def test_crash_between_landing_and_loading_loses_nothing(sims) -> None:
    pipeline.run("siak_penduduk")
    advance(sims["siak"])
    crashed = pipeline.extract("siak_penduduk")  # landed, then the worker died
    advance(sims["siak"])
    rerun = pipeline.run("siak_penduduk")  # the cursor never moved: refetches the range
    assert rerun["rows_received"] >= crashed["rows"]
    wh = open_warehouse()
    before = wh.query("select nik, updated_at, _deleted_at from core.penduduk order by nik")
    replayed = pipeline.replay("siak_penduduk", crashed["load_id"])  # late: older versions
    assert replayed["status"] == "loaded"
    assert wh.query("select nik, updated_at, _deleted_at from core.penduduk order by nik") == (
        before
    )
    assert wh.scalar("select count(*) - count(distinct nik) from core.penduduk") == 0
    wh.dispose()


def test_replay_from_raw_rebuilds_core_without_the_agency(sims, simpul_home, monkeypatch):
    loads = [pipeline.run(n)["load_id"] for n in ("siak_penduduk", "oss_izin")]
    wh = open_warehouse()
    want = (
        wh.query("select nik, nama_lengkap, kode_desa, _deleted_at from core.penduduk order by 1"),
        wh.query("select * exclude (_merged_at) from core.izin order by nomor_izin"),
    )
    wh.dispose()
    for h in sims.values():
        h.stop()  # the agencies are gone
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", f"duckdb:///{simpul_home / 'rebuilt.duckdb'}")
    for name, load_id in zip(("siak_penduduk", "oss_izin"), loads, strict=True):
        assert pipeline.replay(name, load_id)["status"] == "loaded"
    wh = open_warehouse()
    got = (
        wh.query("select nik, nama_lengkap, kode_desa, _deleted_at from core.penduduk order by 1"),
        wh.query("select * exclude (_merged_at) from core.izin order by nomor_izin"),
    )
    assert got == want
    wh.dispose()
