"""Warehouse-level loads of the other entities, SIAK deletions and schema drift, on DuckDB and
PostgreSQL: natural-key upserts (newest wins, equal content untouched, multi-column keys),
deletions soft-deleted in the delivery's own transaction, drift recorded or stopping."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from connectors.base.contract import rows_to_batch
from simpul import pipeline
from simpul.config import paths
from simpul.landing import land, new_load_id
from simpul.model import entity
from simpul.warehouse import merge, open_warehouse, ops
from tests.siak_rows import person


def permit(i: int, updated: str = "2026-10-01T08:00:00Z", **over: str | None) -> dict:
    row = {
        "nomor_izin": f"503/{i:05d}/DPMPTSP/2024",
        "nib": f"{9120000000000 + i}",
        "kbli": "01121",
        "judul_kbli": "Pertanian padi",
        "tingkat_risiko": "rendah",
        "status": "terbit",
        "nik_pemohon": person(i)["NIK"],
        "kode_desa": "16.08.01.2006",
        "tanggal_terbit": "2024-01-05",
        "tanggal_berlaku_sampai": None,
        "updated_at": updated,
    }
    row.update(over)
    return row


def deliver(name: str, source: str, stream: str, rows: list[dict]) -> dict:
    manifest = land(
        iter([rows_to_batch(rows)]),
        root=paths().landing,
        source=source,
        stream=stream,
        cursor_to=max(r.get("updated_at") or r.get("UPDATED_AT") for r in rows),
    )
    staged = pipeline.transform(name, manifest.load_id)
    return {**pipeline.load(name, manifest.load_id), "staged": staged}


def test_izin_upsert_newest_wins_and_equal_content_is_untouched(warehouse_url) -> None:
    rows = [permit(i) for i in range(1, 6)]
    first = deliver("oss_izin", "oss", "izin", rows + [permit(9, kbli="1121")])
    assert (first["rows_loaded"], first["rows_quarantined"]) == (5, 1)
    wh = open_warehouse()
    q = wh.query("select record_key, rules from ops.quarantine")
    assert q == [{"record_key": "503/00009/DPMPTSP/2024", "rules": "kbli_structure"}]
    stamp = wh.scalar("select max(_merged_at) from core.izin")
    again = deliver("oss_izin", "oss", "izin", list(reversed(rows)))
    assert again["merged"] == 0
    assert wh.scalar("select max(_merged_at) from core.izin") == stamp
    newer = permit(2, "2026-10-09T08:00:00Z", status="dicabut")
    older = permit(3, "2026-09-01T08:00:00Z", status="dicabut")
    assert deliver("oss_izin", "oss", "izin", [newer, older])["merged"] == 1
    status = dict(
        (r["nomor_izin"][4:9], r["status"])
        for r in wh.query("select nomor_izin, status from core.izin")
    )
    assert status["00002"] == "dicabut" and status["00003"] == "terbit"
    fixed = deliver("oss_izin", "oss", "izin", [permit(9, "2026-10-02T08:00:00Z")])
    assert fixed["merged"] == 1
    assert wh.scalar("select status from ops.quarantine") == "resolved"
    wh.dispose()


def test_multi_column_key_upsert_and_quarantine_key(warehouse_url) -> None:
    ent = entity("penerima_bantuan")
    now = datetime(2026, 10, 1, tzinfo=UTC)

    def table(rows: list[dict]) -> pa.Table:
        n = len(rows)
        t = pa.Table.from_pylist(rows, schema=ent.schema)
        t = t.append_column("_load_id", pa.array(["l1"] * n))
        t = t.append_column("_source", pa.array(["dinsos"] * n))
        return t.append_column("_extracted_at", pa.array([now] * n, pa.timestamp("us", "UTC")))

    base = {"nik": "1608014101900001", "no_kk": "1608010101100001", "kode_desa": "16.08.01.2006"}
    rows = [
        {**base, "program": "PKH", "periode": "2026-Q3", "nominal": 750000, "updated_at": now},
        {**base, "program": "PKH", "periode": "2026-Q4", "nominal": 750000, "updated_at": now},
        {**base, "program": "BPNT", "periode": "2026-Q3", "nominal": 200000, "updated_at": now},
    ]
    wh = open_warehouse()
    with wh.begin() as conn:
        assert merge.upsert(conn, wh, ent, table(rows), now=now) == 3
    later = datetime(2026, 10, 5, tzinfo=UTC)
    with wh.begin() as conn:
        changed = [{**rows[1], "nominal": 900000, "updated_at": later}, rows[2]]
        assert merge.upsert(conn, wh, ent, table(changed), now=later) == 1
    got = wh.query("select program, periode, nominal from core.penerima_bantuan order by 1, 2")
    assert [r["nominal"] for r in got] == [200000, 750000, 900000]
    assert ops.quarantine_key(ent, rows[0]) == "1608014101900001|PKH|2026-Q3"
    wh.dispose()


def _penduduk_with_deletions(rows: list[dict], deleted: list[dict]) -> str:
    load_id = new_load_id("siak", "penduduk")
    land(
        iter([rows_to_batch(deleted, ["NIK", "DELETED_AT"])] if deleted else []),
        root=paths().landing,
        source="siak",
        stream="penduduk_deleted",
        load_id=pipeline.deletions_load_id(load_id),
        cursor_to=max((d["DELETED_AT"] for d in deleted), default=None),
    )
    land(
        iter([rows_to_batch(rows)]),
        root=paths().landing,
        source="siak",
        stream="penduduk",
        load_id=load_id,
        cursor_to="2026-10-01T08:00:00Z",
    )
    pipeline.transform("siak_penduduk", load_id)
    return load_id


def test_deletions_are_soft_deleted_in_the_delivery_transaction(warehouse_url) -> None:
    people = [person(i) for i in range(1, 7)]
    gone = [
        {"NIK": people[0]["NIK"], "DELETED_AT": "2026-10-03T09:00:00Z"},
        {"NIK": people[1]["NIK"], "DELETED_AT": "2026-10-04T09:00:00Z"},
        {"NIK": None, "DELETED_AT": "kemarin"},
    ]
    load_id = _penduduk_with_deletions(people, gone)
    clean = _penduduk_with_deletions([person(9)], gone[:2])
    result = pipeline.load("siak_penduduk", load_id)
    assert result["status"] == "loaded"
    wh = open_warehouse()
    deleted = wh.query(
        "select nik, _deleted_at from core.penduduk where _deleted_at is not null order by nik"
    )
    assert [r["nik"] for r in deleted] == sorted([people[0]["NIK"], people[1]["NIK"]])
    assert wh.scalar("select count(*) from raw.siak_penduduk_deleted") == 3
    assert wh.scalar("select rules from ops.quarantine") == "deletion_unreadable"
    # the unreadable time sorts last ("kemarin" > "2026-..."): it must not become the cursor
    assert wh.scalar("select count(*) from ops.cursors where stream = 'penduduk_deleted'") == 0
    loads = wh.query("select stream, rows_loaded, rows_quarantined from ops.loads order by 1")
    assert loads == [
        {"stream": "penduduk", "rows_loaded": 6, "rows_quarantined": 0},
        {"stream": "penduduk_deleted", "rows_loaded": 2, "rows_quarantined": 1},
    ]
    assert pipeline.load("siak_penduduk", load_id)["status"] == "already_loaded"
    assert pipeline.load("siak_penduduk", clean)["status"] == "loaded"
    assert (
        wh.scalar("select cursor_value from ops.cursors where stream = 'penduduk_deleted'")
        == "2026-10-04T09:00:00Z"
    )
    wh.dispose()


def test_held_delivery_does_not_apply_its_deletions(warehouse_url) -> None:
    bad = [person(i, AGAMA="???") for i in range(1, 6)] + [person(6)]
    load_id = _penduduk_with_deletions(
        bad, [{"NIK": bad[5]["NIK"], "DELETED_AT": "2026-10-03T09:00:00Z"}]
    )
    assert pipeline.load("siak_penduduk", load_id)["status"] == "held"
    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.penduduk_versions") == 0
    assert wh.scalar("select count(*) from ops.cursors") == 0
    wh.dispose()


def test_schema_drift_is_recorded_or_stops(warehouse_url) -> None:
    deliver("siak_penduduk", "siak", "penduduk", [person(i) for i in range(1, 4)])
    extra = [person(i, NO_HP="0812") for i in range(4, 6)]
    added = deliver("siak_penduduk", "siak", "penduduk", extra)
    assert added["staged"]["schema_drift"]["added"] == ["NO_HP"]
    wh = open_warehouse()
    assert wh.query("select change, column_name, mapped, action from ops.schema_changes") == [
        {"change": "added", "column_name": "NO_HP", "mapped": False, "action": "recorded"}
    ]
    renamed = [
        {("RT" if k == "NO_RT" else k): v for k, v in person(i, NO_HP="1").items()}
        for i in range(6, 8)
    ]
    with pytest.raises(pipeline.PipelineError, match=r"\['NO_RT'\].*\['RT'\].*skema berubah"):
        deliver("siak_penduduk", "siak", "penduduk", renamed)
    assert wh.scalar("select count(*) from ops.schema_changes where action = 'stopped'") == 2
    assert wh.scalar("select count(*) from core.penduduk") == 5
    wh.dispose()
