"""The SIAK export as handed to a kecamatan: .xlsx, .xls (Excel 97-2003), .csv and .zip, a title
above the header, Excel serial dates and change times, labels instead of codes."""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from connectors.base.contract import ReadResult
from connectors.siak_export import SiakExportConnector
from connectors.siak_export.connector import SIAK_EXPORT_COLUMNS
from simpul import pipeline
from simpul.warehouse import open_warehouse

ROW = {
    "Nomor KK": "1608010101100001",
    "NIK": "1608014406795631",
    "Nama Penduduk": "Zelaya Laras",
    "Status": "Hidup",
    "Tempat Lahir": "Martapura",
    "Tanggal Lahir": 29010,  # Excel serial of 1979-06-04 (the date in the NIK)
    "Kelamin": "Perempuan",
    "Status Kawin": "Kawin",
    "SHDK": "Istri",
    "Agama": "Islam",
    "Kecamatan": "MARTAPURA",
    "Desa/Kel": "Kota Baru Barat",
    "Alamat": "Dsn JIWET",
    "RW": 1,
    "RT": "8.0",
    "Pendidikan": "SLTA/Sederajat",
    "Pekerjaan": "Mengurus Rumah Tangga",
    "Gol. Darah": "Tdk Th",
    "Tgl Ubah": 46300.5,  # 2026-10-05 12:00 UTC
}


def rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        r = dict(ROW)
        r["NIK"] = f"16080144067{95631 + i:05d}"
        out.append(r)
    return out


def xlsx(data: list[dict], *, title: bool = True) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Penduduk"
    if title:  # what a hand-forwarded export often has above the header
        ws.append(["DATA PENDUDUK KECAMATAN MARTAPURA"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=10)
        ws.append([])
    ws.append(SIAK_EXPORT_COLUMNS)
    for r in data:
        ws.append([r.get(c) for c in SIAK_EXPORT_COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xls(data: list[dict]) -> bytes:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Penduduk")
    for j, c in enumerate(SIAK_EXPORT_COLUMNS):
        ws.write(0, j, c)
    for i, r in enumerate(data, start=1):
        for j, c in enumerate(SIAK_EXPORT_COLUMNS):
            if r.get(c) is not None:
                ws.write(i, j, r[c])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(data: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(["DATA PENDUDUK KECAMATAN MARTAPURA"])  # a title line above the header
    w.writerow([])
    w.writerow(SIAK_EXPORT_COLUMNS)
    for r in data:
        w.writerow(["" if r.get(c) is None else r[c] for c in SIAK_EXPORT_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("export.xlsx", lambda d: xlsx(d)),
        ("export.xls", xls),
        ("export.csv", csv_bytes),
        ("export.zip", lambda d: zipped("SIAK/export.xlsx", xlsx(d))),
    ],
)
def test_every_delivery_format_lands_the_37_columns(tmp_path: Path, name, make) -> None:
    (tmp_path / name).write_bytes(make(rows(3)))
    result = ReadResult()
    batches = list(SiakExportConnector(str(tmp_path)).read("penduduk", since=None, result=result))
    got = [r for b in batches for r in b.to_pylist()]
    assert len(got) == 3 and result.files[0]["status"] == "new"
    assert got[0]["NIK"] == "1608014406795631" and got[0]["Kelamin"] == "Perempuan"
    assert got[0]["Tanggal Lahir"] == "29010"
    assert set(SIAK_EXPORT_COLUMNS) <= set(got[0])


def test_pipeline_maps_labels_serial_dates_and_change_times(simpul_home: Path) -> None:
    drop = simpul_home / "drops" / "siak_export"
    drop.mkdir(parents=True)
    data = rows(9)
    data[3]["NIK"] = 1608014406795634  # typed as a number cell: loads, with a warning
    f = drop / "siak_martapura.xlsx"
    f.write_bytes(xlsx(data))
    os.utime(f, (time.time() - 60, time.time() - 60))
    result = pipeline.run("siak_export_penduduk")
    assert (result["status"], result["rows_loaded"], result["rows_quarantined"]) == ("loaded", 9, 0)
    assert result["rows_warned"] >= 1
    wh = open_warehouse()
    try:
        r = wh.query("select * from core.penduduk where nik = '1608014406795631'")[0]
        rules = {x["rule"] for x in wh.query("select rule from ops.dq_findings")}
    finally:
        wh.dispose()
    assert (r["jenis_kelamin"], r["status_perkawinan"], r["shdk"], r["golongan_darah"]) == (
        "2",
        "2",
        "3",
        "13",
    )
    assert r["kode_desa"] == "16.08.01.2020" and r["rt"] == "008" and r["dusun"] is None
    assert str(r["tanggal_lahir"]) == "1979-06-04"
    assert r["updated_at"].isoformat().startswith("2026-10-05T12:00:00")
    assert "number_cell" in rules
