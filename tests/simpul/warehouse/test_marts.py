"""Marts on DuckDB and PostgreSQL: monthly population from history, current residents under a
keyed pseudonym, nothing identifying, the same rows on every rebuild."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from simpul.config import ConfigError
from simpul.reference import load_reference
from simpul.warehouse import open_warehouse
from simpul.warehouse.marts import build_marts
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, rows, stage

KEY = "k" * 40
MOVED = dict(updated="2026-11-10T08:00:00Z", NO_KEL="2009", KEL_NAME="KOTA BARU")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    return KEY


def test_marts_from_history(warehouse_url, key):
    people = [person(i) for i in range(1, 6)]
    load(stage(people))
    load(stage([person(1, **MOVED), person(2, updated="2026-11-02T00:00:00Z", STATUS="MATI")]))
    wh = open_warehouse()
    load_reference(wh)
    counts = build_marts(wh, start=date(2026, 9, 1), end=date(2026, 11, 15))
    assert counts == {
        "marts.penduduk": 4,
        "marts.penduduk_bulanan": counts["marts.penduduk_bulanan"],
        "marts.rekonsiliasi": 0,  # one source only: nothing to reconcile
    }

    monthly = wh.query(
        "select akhir_bulan, kode_desa, sum(jumlah) as n from "
        "marts.penduduk_bulanan group by 1, 2 order by 1, 2"
    )
    assert [(r["akhir_bulan"], r["kode_desa"], int(r["n"])) for r in monthly] == [
        (date(2026, 10, 31), "16.08.01.2006", 5),  # September: nothing known yet
        (date(2026, 11, 30), "16.08.01.2006", 3),  # one moved, one died
        (date(2026, 11, 30), "16.08.01.2009", 1),
    ]
    one = wh.query(
        "select kelompok_umur, umur_min, jenis_kelamin, nama_desa, jumlah "
        "from marts.penduduk_bulanan where akhir_bulan = '2026-11-30' "
        "and kode_desa = '16.08.01.2009'"
    )
    # person 1: born 1961-02-02, 65 at the end of November 2026
    assert one == [
        {
            "kelompok_umur": "65-69",
            "umur_min": 65,
            "jenis_kelamin": "1",
            "nama_desa": "Kota Baru",
            "jumlah": 1,
        }
    ]

    current = wh.query("select * from marts.penduduk order by pseudonim")
    nik = person(3)["NIK"]
    expected = hmac.new(KEY.encode(), f"nik:{nik}".encode(), hashlib.sha256).hexdigest()
    assert expected in {r["pseudonim"] for r in current}
    assert {r["tahun_lahir"] for r in current} >= {1963}
    for name in ("nik", "no_kk", "nama_lengkap", "tanggal_lahir", "alamat", "rt", "rw"):
        assert name not in current[0]
    text = repr(wh.query("select * from marts.penduduk")) + repr(monthly)
    for p in people:
        assert p["NIK"] not in text and p["NO_KK"] not in text and p["NAMA_LGKP"] not in text

    before = [rows(wh, f"marts.{t}", "1, 2, 3, 4, 5, 6") for t in ("penduduk", "penduduk_bulanan")]
    assert build_marts(wh, start=date(2026, 9, 1), end=date(2026, 11, 15)) == counts
    after = [rows(wh, f"marts.{t}", "1, 2, 3, 4, 5, 6") for t in ("penduduk", "penduduk_bulanan")]
    assert before == after
    wh.dispose()


def test_default_range_starts_at_the_first_load(warehouse_url, key):
    load(stage([person(1)]))
    wh = open_warehouse()
    build_marts(wh)
    months = [
        r["akhir_bulan"]
        for r in wh.query("select distinct akhir_bulan from marts.penduduk_bulanan order by 1")
    ]
    assert months and months[-1] >= date.today().replace(day=1)
    wh.dispose()


def test_marts_need_the_pseudonym_key(warehouse_url, monkeypatch):
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "short")
    wh = open_warehouse()
    with pytest.raises(ConfigError, match="SIMPUL_PSEUDONYM_KEY"):
        build_marts(wh)
    wh.dispose()
