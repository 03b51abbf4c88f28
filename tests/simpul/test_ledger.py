"""The file ledger through the real pipeline, warehouse and CLI (simpul/ledger.py): what a
drop folder fed by flash disks and cp -p needs."""

from __future__ import annotations

import os

import pytest

from simpul import pipeline
from simpul.cli import main
from simpul.ledger import rejected_alert
from simpul.status import status_report
from simpul.warehouse import open_warehouse

HEADER = "NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL"


def rows(n: int, start: int = 1, nominal: str = "750000") -> list[str]:
    return [
        f"1608011301{90 + i % 10:02d}{i:04d};1608010101100001;WARGA {i};PKH;2026-Q3;1608012006;"
        f"{nominal}"
        for i in range(start, start + n)
    ]


@pytest.fixture
def drop(simpul_home):
    folder = simpul_home / "drops" / "dinsos"
    folder.mkdir(parents=True)
    return folder


def old(path, when: int = 1_000_000_000) -> None:
    os.utime(path, (when, when))


def loads_reconcile() -> None:
    wh = open_warehouse()
    try:
        bad = wh.scalar(
            "select count(*) from ops.loads where rows_received <> rows_loaded + "
            "rows_quarantined + rows_duplicate + rows_held"
        )
    finally:
        wh.dispose()
    assert bad == 0


def test_a_rerun_skips_known_content_and_is_never_held(drop, capsys):
    f = drop / "bantuan.csv"
    f.write_text("\n".join([HEADER, *rows(40)]))
    old(f)
    assert pipeline.run("dinsos_penerima_bantuan")["rows_loaded"] == 40
    # the Dinas Sosial rerun: nothing new, so no "held: 0 rows against 40"
    assert main(["run", "dinsos_penerima_bantuan"]) == 0
    wh = open_warehouse()
    try:
        last = wh.query(
            "select status, rows_received, message from ops.loads order by loaded_at desc limit 1"
        )[0]
        skipped = wh.query("select reason_en from ops.files where status = 'skipped'")
    finally:
        wh.dispose()
    assert last["status"] == "loaded" and last["rows_received"] == 0
    assert skipped and "already loaded as dinsos.penerima_bantuan." in skipped[0]["reason_en"]
    loads_reconcile()


def test_old_mtime_files_load_and_a_correction_loads_only_what_changed(drop):
    first = drop / "bantuan_q3.csv"
    first.write_text("\n".join([HEADER, *rows(40)]))
    assert pipeline.run("dinsos_penerima_bantuan")["rows_loaded"] == 40
    # a file from a flash disk (cp -p): its mtime is older than the last load
    late = drop / "bantuan_susulan.csv"
    late.write_text("\n".join([HEADER, *rows(40, start=41)]))
    old(late)
    result = pipeline.run("dinsos_penerima_bantuan")
    assert result["rows_loaded"] == 40
    # a correction under a known name: 39 rows unchanged (duplicates), one changed
    lines = rows(40)
    lines[0] = lines[0].rsplit(";", 1)[0] + ";800000"
    first.write_text("\n".join([HEADER, *lines]))
    old(first)
    fixed = pipeline.run("dinsos_penerima_bantuan")
    assert (fixed["status"], fixed["rows_received"]) == ("loaded", 40)
    assert (fixed["rows_loaded"], fixed["rows_duplicate"]) == (1, 39)
    loads_reconcile()


def test_one_bad_file_is_rejected_alone_partial_exit_and_status(drop, capsys):
    (drop / "a_rusak.csv").write_bytes(bytes(range(256)) * 4)
    good = drop / "b_baik.csv"
    good.write_text("\n".join([HEADER, *rows(10)]))
    old(good)
    old(drop / "a_rusak.csv")
    assert main(["run", "dinsos_penerima_bantuan"]) == 4
    out = capsys.readouterr().out
    assert "partial" in out and "a_rusak.csv" in out and "ditolak" in out
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penerima_bantuan") == 10
        files = {r["name"]: r for r in wh.query("select * from ops.files")}
    finally:
        wh.dispose()
    assert files["a_rusak.csv"]["status"] == "rejected" and files["b_baik.csv"]["rows"] == 10
    assert files["a_rusak.csv"]["reason_id"]
    report = status_report()
    assert "a_rusak.csv" in report and "rejected" in report
    load_id = next(iter(files.values()))["load_id"]
    alert = rejected_alert("dinsos_penerima_bantuan", load_id)
    assert alert.kind == "files_rejected" and "a_rusak.csv" in alert.message_en
    assert "ditolak" in alert.message_id and alert.counts == {"files_rejected": 1}


def test_a_held_delivery_exits_3_and_counts_its_held_rows(drop, capsys):
    full = drop / "bantuan_q3.csv"
    full.write_text("\n".join([HEADER, *rows(40)]))
    old(full, 1_700_000_000)
    pipeline.run("dinsos_penerima_bantuan")
    full.unlink()
    (drop / "bantuan_q4.csv").write_text("\n".join([HEADER, *rows(10, start=100)]))
    assert main(["run", "dinsos_penerima_bantuan"]) == 3
    wh = open_warehouse()
    try:
        held = wh.query("select * from ops.loads where status = 'held'")[0]
    finally:
        wh.dispose()
    assert (held["rows_received"], held["rows_held"], held["rows_loaded"]) == (10, 10, 0)
    loads_reconcile()


@pytest.mark.postgres
def test_ledger_and_duplicates_on_postgres(drop, pg_url, monkeypatch):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    f = drop / "bantuan_pg.csv"
    f.write_text("\n".join([HEADER, *rows(20, start=500)]))
    old(f)
    assert pipeline.run("dinsos_penerima_bantuan")["rows_loaded"] == 20
    assert pipeline.run("dinsos_penerima_bantuan")["rows_received"] == 0  # skipped by the ledger
    lines = rows(20, start=500)
    lines[0] = lines[0].rsplit(";", 1)[0] + ";800000"
    f.write_text("\n".join([HEADER, *lines]))
    old(f)
    fixed = pipeline.run("dinsos_penerima_bantuan")
    assert (fixed["rows_loaded"], fixed["rows_duplicate"]) == (1, 19)
    loads_reconcile()
