"""The simulators' fast .xlsx writer: readers see exactly what openpyxl's write-only mode
wrote before (the drops' cells, and so the demo's findings, do not change)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from connectors.base.xlsx_stream import iter_rows
from simpul.simulators.filedrop import workbook_bytes
from simpul.simulators.xlsx_writer import column_letters, xlsx_bytes

WHEN = datetime(2026, 10, 31, 1, 0, tzinfo=UTC)
ROWS = [
    ["nik", "nama", "tanggal", "angka", "kosong", "akhir"],
    ["1608010101900001", " SPASI ", date(1990, 1, 1), 1608010101900001, None, "a & <b>"],
    ["", "baris\r\nbaru", datetime(2020, 5, 6, 7, 8, 9), 3.25, True, None],
    [None, "'1608010101900002", 37730, 12345678901234567, False, "x"],
]


def _openpyxl(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Data")
    for r in rows:
        ws.append(r)
    codes = wb.create_sheet("Kode")
    codes.append(["kolom", "kode"])
    return workbook_bytes(wb, WHEN)


def _seen(data: bytes) -> tuple:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cal = {n: wb.get_sheet_by_name(n).to_python() for n in wb.sheet_names}
    stream = list(iter_rows(io.BytesIO(data), None))
    pyxl = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = [[(type(v), v) for v in r] for r in pyxl["Data"].iter_rows(values_only=True)]
    typed = [[(type(v), v) for v in r] for r in stream]
    return cal, typed, cells


def test_readers_see_what_openpyxl_wrote() -> None:
    ours = xlsx_bytes([("Data", ROWS), ("Kode", [["kolom", "kode"]])], WHEN)
    assert _seen(ours) == _seen(_openpyxl(ROWS))
    assert ours == xlsx_bytes([("Data", ROWS), ("Kode", [["kolom", "kode"]])], WHEN)


def test_refuses_what_a_worksheet_cannot_hold() -> None:
    with pytest.raises(ValueError):
        xlsx_bytes([("Data", [["bell\x07"]])], WHEN)
    with pytest.raises(TypeError):
        xlsx_bytes([("Data", [[datetime(2020, 1, 1, tzinfo=UTC)]])], WHEN)


def test_column_letters() -> None:
    letters = column_letters(60)
    assert letters[:3] == ["A", "B", "C"] and letters[25:28] == ["Z", "AA", "AB"]
