"""Land -> transform -> load on DuckDB and PostgreSQL, without HTTP: counts reconcile, reruns
and replays change nothing, bad rows are quarantined with reasons."""

from __future__ import annotations

import pyarrow as pa
import pytest

from connectors.base.contract import rows_to_batch
from simpul import pipeline
from simpul.config import paths
from simpul.landing import land
from simpul.warehouse import open_warehouse
from tests.siak_rows import person

PIPE = "siak_penduduk"


def deliver(rows, cursor_to="2026-10-01T08:00:00Z"):
    manifest = land(
        iter([rows_to_batch(rows)]),
        root=paths().landing,
        source="siak",
        stream="penduduk",
        cursor_to=cursor_to,
    )
    staged = pipeline.transform(PIPE, manifest.load_id)
    return staged, pipeline.load(PIPE, manifest.load_id)


def snapshot(wh):
    return wh.query(
        "select nik, nama_lengkap, kode_desa, rt, updated_at from core.penduduk order by nik"
    )


def test_delivery_loads_valid_and_quarantines_invalid(warehouse_url):
    good = [person(i) for i in range(1, 21)]
    bad_sex = person(21, female=True, JENIS_KLMIN="LAKI-LAKI")  # NIK says woman
    bad_code = person(22, AGAMA="TIDAK JELAS")
    twin_a, twin_b = person(23), person(23, NAMA_LGKP="ORANG LAIN")  # same NIK, two people
    copy = dict(good[0])  # exact copy: a page served twice
    staged, loaded = deliver(good + [bad_sex, bad_code, twin_a, twin_b, copy])

    assert staged["received"] == 25
    assert loaded["status"] == "loaded"
    assert loaded["rows_loaded"] == 20
    assert loaded["rows_quarantined"] == 4
    assert loaded["rows_duplicate"] == 1
    assert (
        loaded["rows_loaded"] + loaded["rows_quarantined"] + loaded["rows_duplicate"]
        == loaded["rows_received"]
    )

    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.penduduk") == 20
    q = wh.query(
        "select row_number, rules, reasons_en, reasons_id from ops.quarantine order by row_number"
    )
    assert [r["row_number"] for r in q] == [21, 22, 23, 24]
    assert "nik_birth_agreement" in q[0]["rules"]
    assert "mapping_agama" in q[1]["rules"] and "AGAMA" in q[1]["reasons_en"]
    assert q[2]["rules"] == "nik_unique" and "NIK yang sama" in q[2]["reasons_id"]
    assert wh.scalar("select count(*) from raw.siak_penduduk") == 25
    lineage = wh.query("select distinct _load_id, _source from core.penduduk")
    assert lineage == [{"_load_id": loaded["load_id"], "_source": "siak"}]
    assert wh.scalar("select cursor_value from ops.cursors") == "2026-10-01T08:00:00Z"
    wh.dispose()


def test_rerun_and_replay_change_nothing(warehouse_url):
    rows = [person(i) for i in range(1, 11)]
    _, first = deliver(rows)
    wh = open_warehouse()
    before = snapshot(wh)
    merged_at = wh.scalar("select max(_merged_at) from core.penduduk")
    again = pipeline.load(PIPE, first["load_id"])
    assert again["status"] == "already_loaded"
    deliver(list(reversed(rows)))  # same data, new delivery, other order
    assert snapshot(wh) == before
    assert wh.scalar("select max(_merged_at) from core.penduduk") == merged_at
    assert wh.scalar("select count(*) from ops.loads") == 2
    wh.dispose()


def test_newest_version_wins_in_any_order(warehouse_url):
    old = person(1, updated="2026-10-01T08:00:00Z", NO_RT="001")
    new = person(1, updated="2026-10-05T08:00:00Z", NO_RT="009")
    deliver([new], cursor_to="2026-10-05T08:00:00Z")
    deliver([old], cursor_to="2026-10-01T08:00:00Z")
    wh = open_warehouse()
    assert wh.scalar("select rt from core.penduduk") == "009"
    assert wh.scalar("select cursor_value from ops.cursors") == "2026-10-05T08:00:00Z"
    wh.dispose()


def test_quarantined_record_is_resolved_when_it_arrives_valid(warehouse_url):
    deliver([person(i) for i in range(3, 10)] + [person(2, AGAMA="???")])
    deliver([person(2, updated="2026-10-02T08:00:00Z")], cursor_to="2026-10-02T08:00:00Z")
    wh = open_warehouse()
    assert wh.query("select status from ops.quarantine") == [{"status": "resolved"}]
    wh.dispose()


def test_error_rate_gate_holds_the_whole_delivery(warehouse_url):
    rows = [person(i, AGAMA="???") for i in range(1, 6)] + [person(6)]
    staged, loaded = deliver(rows)
    assert staged["held"] is True
    assert loaded["status"] == "held" and loaded["rows_loaded"] == 0
    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.penduduk") == 0
    assert wh.scalar("select count(*) from ops.cursors") == 0  # the range is fetched again
    wh.dispose()


def test_empty_delivery_is_recorded(warehouse_url):
    manifest = land(iter([]), root=paths().landing, source="siak", stream="penduduk")
    pipeline.transform(PIPE, manifest.load_id)
    loaded = pipeline.load(PIPE, manifest.load_id)
    assert loaded["rows_received"] == 0 and loaded["status"] == "loaded"


def test_missing_key_column_stops_with_a_clear_message(warehouse_url):
    rows = [{k: v for k, v in person(1).items() if k != "NIK"}]
    manifest = land(
        iter([rows_to_batch(rows)]), root=paths().landing, source="siak", stream="penduduk"
    )
    with pytest.raises(pipeline.PipelineError, match=r"lacks columns \['NIK'\].*skema berubah"):
        pipeline.transform(PIPE, manifest.load_id)


def test_reference_tables_load_once(warehouse_url):
    from simpul.reference import load_reference

    wh = open_warehouse()  # opening loads them
    assert wh.scalar("select count(*) from ref.wilayah") > 3000
    assert wh.scalar("select count(*) from ref.kode") > 150
    assert load_reference(wh) == {}  # unchanged files: nothing reloaded
    forced = load_reference(wh, force=True)
    assert forced["ref.wilayah"] == wh.scalar("select count(*) from ref.wilayah")
    assert wh.scalar("select nama from ref.wilayah where kode = '16.08.01'") == "Martapura"
    wh.dispose()


def test_bulk_insert_roundtrip_types(warehouse_url):
    from datetime import UTC, date, datetime

    wh = open_warehouse()
    with wh.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE ops.t (a VARCHAR, b DATE, c TIMESTAMP WITH TIME ZONE, d BIGINT)"
        )
        t = pa.table(
            {
                "a": ['x,"y"\n', None],
                "b": [date(2020, 2, 29), None],
                "c": pa.array(
                    [datetime(2026, 1, 1, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")
                ),
                "d": [1, None],
            }
        )
        wh.bulk_insert(conn, "ops.t", t)
    rows = wh.query("select a, b, d from ops.t order by d")
    assert rows[0] == {"a": 'x,"y"\n', "b": date(2020, 2, 29), "d": 1}
    assert rows[1] == {"a": None, "b": None, "d": None}
    wh.dispose()


def test_dq_report_is_bilingual_and_html_has_no_nik(warehouse_url):
    from pathlib import Path

    rows = [person(i) for i in range(1, 10)] + [person(10, AGAMA="???")]
    staged, _ = deliver(rows)
    html = Path(staged["reports"]["html"]).read_text()
    csv = Path(staged["reports"]["csv"]).read_text()
    assert "Laporan mutu data" in html and "data-quality report" in html
    assert "mapping_agama" in html
    nik = rows[-1]["NIK"]
    assert nik not in html  # shareable summary
    assert nik in csv and "daftar kode" in csv  # row details for the source agency


def test_bad_record_delivered_twice_has_one_open_quarantine_entry(warehouse_url):
    rows = [person(i) for i in range(1, 10)] + [person(10, AGAMA="???")]
    deliver(rows)
    deliver(rows)
    wh = open_warehouse()
    statuses = wh.query(
        "select status, count(*) as n from ops.quarantine group by status order by status"
    )
    assert statuses == [{"status": "open", "n": 1}, {"status": "superseded", "n": 1}]
    wh.dispose()
