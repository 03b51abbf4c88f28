"""OpenSID drops: per-desa workbooks in the template layout, quirks included, end to end."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime

import openpyxl
import pytest

from connectors.base.contract import ReadResult
from connectors.base.files import FileFormatError
from connectors.opensid.connector import TEMPLATE_COLUMNS, OpenSidDropConnector, desa_from_name
from simpul import pipeline
from simpul.config import paths
from simpul.warehouse import open_warehouse


def template_row(i: int, **over):
    female = i % 2 == 0
    day = 1 + i % 28
    nik = f"160801{day + (40 if female else 0):02d}0390{i:04d}"
    row = {c: None for c in TEMPLATE_COLUMNS}
    row.update(
        {
            "alamat": "JL. DESA",
            "dusun": "DUSUN I",
            "rw": "001",
            "rt": "-",
            "nama": f"warga {i}",
            "no_kk": "1608010101100001",
            "nik": nik,
            "sex": "2" if female else "1",
            "tempatlahir": "MARTAPURA",
            "tanggallahir": datetime(1990, 3, day),
            "agama_id": "1",
            "pendidikan_kk_id": "5",
            "pekerjaan_id": "9",
            "status_kawin": "2",
            "kk_level": "3" if female else "1",
            "golongan_darah_id": "13",
            "status_dasar": "1",
        }
    )
    row.update(over)
    return row


def workbook(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data Penduduk"
    ws.append(TEMPLATE_COLUMNS)
    for r in rows:
        ws.append([r[c] for c in TEMPLATE_COLUMNS])
    wb.create_sheet("Kode Data").append(["kode", "nama"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def drop(simpul_home):
    folder = simpul_home / "drops" / "opensid"
    folder.mkdir(parents=True)
    return folder


def test_desa_from_file_name():
    assert desa_from_name("penduduk_16.08.01.2006.xlsx", "16.08.01") == "16.08.01.2006"
    assert desa_from_name("1608012020.xlsx", None) == "16.08.01.2020"
    assert desa_from_name("Kota Baru Barat.xlsx", "16.08.01") == "16.08.01.2020"
    with pytest.raises(FileFormatError, match="kode Kemendagri"):
        desa_from_name("data.xlsx", "16.08.01")


def test_reads_workbooks_and_zip_pushes_with_file_and_row(drop):
    (drop / "penduduk_16.08.01.2006.xlsx").write_bytes(workbook([template_row(1), template_row(2)]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("penduduk_01_11_2026_opendk.xlsx", workbook([template_row(3)]))
    (drop / "opendk_16.08.01.2020.zip").write_bytes(buf.getvalue())
    result = ReadResult()
    batches = list(
        OpenSidDropConnector(str(drop), kecamatan="16.08.01").read(
            "penduduk", since=None, result=result
        )
    )
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["_kode_desa"] for r in rows] == ["16.08.01.2006"] * 2 + ["16.08.01.2020"]
    assert rows[0]["_source_row"] == "2" and rows[0]["_source_file"].endswith(".xlsx")
    assert rows[2]["_source_file"].endswith("!penduduk_01_11_2026_opendk.xlsx")
    assert rows[0]["tanggallahir"].startswith("1990-03-02")
    assert result.cursor_max is not None


def test_ledger_takes_new_content_whatever_its_mtime_and_skips_known_content(drop):
    first_file = drop / "1608012006.xlsx"
    first_file.write_bytes(workbook([template_row(1)]))
    connector = OpenSidDropConnector(str(drop), kecamatan="16.08.01")
    first = ReadResult()
    assert sum(b.num_rows for b in connector.read("penduduk", since=None, result=first)) == 1
    (entry,) = first.files
    assert entry["status"] == "new" and len(entry["sha256"]) == 64
    # a file copied with cp -p / from a flash disk: older than everything loaded so far
    old = drop / "1608012009.xlsx"
    old.write_bytes(workbook([template_row(2)]))
    os.utime(old, (1_000_000_000, 1_000_000_000))
    connector.known = {entry["sha256"]: "opensid.penduduk.x.1"}
    again = ReadResult()
    rows = [
        r
        for b in connector.read("penduduk", since=first.cursor_max, result=again)
        for r in b.to_pylist()
    ]
    assert [r["_kode_desa"] for r in rows] == ["16.08.01.2009"]
    skipped = next(f for f in again.files if f["name"] == "1608012006.xlsx")
    assert skipped["status"] == "skipped"
    assert "already loaded as opensid.penduduk.x.1" in skipped["reason_en"]


def test_pipeline_quarantines_with_file_and_row_in_the_report(drop):
    good = [template_row(i) for i in range(1, 10)]
    bad = template_row(10, agama_id="99")
    (drop / "penduduk_16.08.01.2006.xlsx").write_bytes(workbook(good + [bad]))
    result = pipeline.run("opensid_penduduk")
    assert (result["rows_loaded"], result["rows_quarantined"]) == (9, 1)
    report = open(paths().reports / result["load_id"] / "laporan_mutu_data.csv").read()
    assert "penduduk_16.08.01.2006.xlsx, baris/row 11" in report
    wh = open_warehouse()
    assert wh.scalar("select count(distinct kode_desa) from core.penduduk") == 1
    assert wh.scalar("select rt from core.penduduk limit 1") is None  # "-" means none
    wh.dispose()


def test_broken_workbook_is_rejected_alone_and_named(drop):
    (drop / "1608012006.xlsx").write_bytes(b"not a zip")
    (drop / "1608012009.xlsx").write_bytes(workbook([template_row(2)]))
    result = ReadResult()
    rows = list(OpenSidDropConnector(str(drop)).read("penduduk", since=None, result=result))
    assert sum(b.num_rows for b in rows) == 1
    bad = next(f for f in result.files if f["name"] == "1608012006.xlsx")
    assert bad["status"] == "rejected" and "1608012006.xlsx" in bad["reason_en"]
    assert bad["reason_id"]
