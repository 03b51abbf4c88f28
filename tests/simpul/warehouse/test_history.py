"""SCD2 history of penduduk on DuckDB and PostgreSQL: validity ranges from the source's
updated_at, identical whatever the load order or repetition, closed by soft deletes."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime

import sqlalchemy as sa

from simpul.config import PROJECT_ROOT
from simpul.warehouse import migrations, open_warehouse
from simpul.warehouse.merge import RESIDENTS_ON, residents_on, soft_delete
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, reset, rows, stage

MOVED = dict(NO_KEL="2009", KEL_NAME="KOTA BARU", DUSUN="DUSUN III", NO_RT="004")
V1 = dict(updated="2026-10-01T08:00:00Z")
V2 = dict(updated="2026-10-05T08:00:00Z", **MOVED)  # moves to Kota Baru (15:00 WIB)
V3 = dict(updated="2026-10-09T08:00:00Z", JENIS_PKRJN="PERDAGANGAN", **MOVED)


def snapshot(wh) -> dict[str, list]:
    return {
        "history": rows(wh, "core.penduduk_history", "nik, valid_from"),
        "core": rows(wh, "core.penduduk", "nik"),
        "versions": rows(wh, "core.penduduk_versions", "nik, _source, updated_at, _row_hash"),
    }


def test_history_is_identical_in_any_order_and_on_reload(warehouse_url):
    deliveries = [stage([person(1, **v), person(2)]) for v in (V1, V2, V3)]
    orders = [deliveries, deliveries[::-1], random.Random(7).sample(deliveries, 3)]
    snaps = []
    for order in orders:
        reset(warehouse_url)
        for load_id in order + order:  # the second pass is a rerun: nothing changes
            load(load_id)
        wh = open_warehouse()
        snaps.append(snapshot(wh))
        wh.dispose()
    assert snaps[0] == snaps[1] == snaps[2]
    # the same content delivered again in new deliveries changes nothing either
    wh = open_warehouse()
    before = wh.query("select * from core.penduduk_history order by nik, valid_from")
    load(stage([person(1, **V2)]))
    load(stage([person(2), person(1, **V3)]))
    assert snapshot(wh) == snaps[0]
    assert wh.query("select * from core.penduduk_history order by nik, valid_from") == before

    hist = [r for r in snaps[0]["history"] if r["nik"] == person(1)["NIK"]]
    assert [(r["valid_from"], r["valid_to"], r["is_current"]) for r in hist] == [
        ("2026-10-01T08:00:00+00:00", "2026-10-05T08:00:00+00:00", "False"),
        ("2026-10-05T08:00:00+00:00", "2026-10-09T08:00:00+00:00", "False"),
        ("2026-10-09T08:00:00+00:00", None, "True"),
    ]
    assert [r["kode_desa"] for r in hist] == ["16.08.01.2006", "16.08.01.2009", "16.08.01.2009"]
    assert hist[2]["pekerjaan"] == "8" and hist[1]["pekerjaan"] == "9"
    assert len({r["_load_id"] for r in hist}) == 3  # lineage: the delivery of each version
    wh.dispose()


def test_who_lived_in_a_desa_on_a_date(warehouse_url):
    for v in (V1, V2):
        load(stage([person(1, **v), person(2)]))
    wh = open_warehouse()
    one, two = person(1)["NIK"], person(2)["NIK"]
    tk, kb = "16.08.01.2006", "16.08.01.2009"
    assert residents_on(wh, tk, date(2026, 9, 30)) == []
    assert residents_on(wh, tk, date(2026, 10, 4)) == sorted([one, two])
    assert residents_on(wh, tk, date(2026, 10, 5)) == [two]  # moved at 15:00 WIB that day
    assert residents_on(wh, kb, date(2026, 10, 5)) == [one]
    # the documented query, with literals, gives the same answer on both engines
    doc = (PROJECT_ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sql\n(.*?)```", doc, re.S) if "desa X on" in b)
    assert [r["nik"] for r in wh.query(block)] == [two]
    assert " ".join(RESIDENTS_ON.split()) in " ".join(doc.split())
    wh.dispose()


def test_untracked_change_updates_core_without_a_history_row(warehouse_url):
    load(stage([person(1, **V1)]))
    load(stage([person(1, updated="2026-10-03T00:00:00Z", NAMA_LGKP="NAMA BARU")]))
    wh = open_warehouse()
    assert wh.scalar("select nama_lengkap from core.penduduk") == "NAMA BARU"
    assert wh.scalar("select count(*) from core.penduduk_history") == 1
    wh.dispose()


def test_older_version_arriving_late_splits_history(warehouse_url):
    load(stage([person(1, **V3)]))
    load(stage([person(1, **V1)]))
    wh = open_warehouse()
    assert wh.scalar("select pekerjaan from core.penduduk") == "8"  # newest still wins
    hist = wh.query("select kode_desa, is_current from core.penduduk_history order by valid_from")
    assert hist == [
        {"kode_desa": "16.08.01.2006", "is_current": False},
        {"kode_desa": "16.08.01.2009", "is_current": True},
    ]
    wh.dispose()


def test_soft_delete_closes_history_and_is_undone_by_a_newer_version(warehouse_url):
    load(stage([person(1, **V1), person(2)]))
    wh = open_warehouse()
    nik = person(1)["NIK"]
    gone = datetime(2026, 10, 7, 1, 0, tzinfo=UTC)
    assert soft_delete(wh, "penduduk", [nik], "siak", "siak.deleted.test", gone) == 1
    assert soft_delete(wh, "penduduk", [nik], "siak", "siak.deleted.test", gone) == 0
    row = wh.query(
        "select nama_lengkap, _deleted_at from core.penduduk where nik = :n", {"n": nik}
    )[0]
    assert row["nama_lengkap"] == "WARGA 1" and row["_deleted_at"] == gone
    h = wh.query(
        "select valid_to, is_current from core.penduduk_history where nik = :n", {"n": nik}
    )
    assert h == [{"valid_to": gone, "is_current": False}]
    assert residents_on(wh, "16.08.01.2006", date(2026, 10, 6)) == sorted([nik, person(2)["NIK"]])
    assert residents_on(wh, "16.08.01.2006", date(2026, 10, 7)) == [person(2)["NIK"]]
    load(stage([person(1, updated="2026-10-08T00:00:00Z")]))  # SIAK has the person again
    assert wh.scalar("select _deleted_at from core.penduduk where nik = :n", {"n": nik}) is None
    assert (
        wh.scalar(
            "select count(*) from core.penduduk_history where nik = :n and is_current", {"n": nik}
        )
        == 1
    )
    wh.dispose()


def test_migration_gives_existing_core_rows_a_history(warehouse_url):
    wh = open_warehouse(check=False)
    assert migrations.upgrade(wh, to="0002") == ["0001", "0002"]
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "insert into core.penduduk (nik, kode_desa, rt, updated_at, _load_id, _source, "
                "_extracted_at) values ('1608014101900001', '16.08.01.2006', '001', :t, 'l1', "
                "'siak', :t)"
            ),
            {"t": datetime(2026, 10, 1, tzinfo=UTC)},
        )
    wh.dispose()
    wh = open_warehouse()
    assert wh.query("select nik, rt, valid_from, is_current from core.penduduk_history") == [
        {
            "nik": "1608014101900001",
            "rt": "001",
            "valid_from": datetime(2026, 10, 1, tzinfo=UTC),
            "is_current": True,
        }
    ]
    assert wh.scalar("select count(*) from core.penduduk_versions") == 1
    wh.dispose()
