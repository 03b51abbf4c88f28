"""An .xlsx is a ZIP of XML parts: a village operator's workbook carrying a "billion laughs"
entity bomb must be refused by the production reading path (``connectors.base.files``), fast and
with a clear error naming the file, not expanded in memory. openpyxl parses through defusedxml
when it is installed, so defusedxml is a runtime dependency (the ``--no-dev`` image has it;
tests/test_compose.py checks the lock's runtime closure)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from connectors.base.files import FileFormatError, read_xlsx

LAUGHS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE worksheet [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>nik</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>
</sheetData>
</worksheet>
"""


def workbook_with_sheet(sheet_xml: str) -> bytes:
    """A real openpyxl workbook whose first worksheet part is replaced by ``sheet_xml``."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["nik"])
    wb.active.append(["1608010101900001"])
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode()
            dst.writestr(item, data)
    return out.getvalue()


def test_openpyxl_parses_through_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


def test_a_billion_laughs_workbook_is_refused():
    data = workbook_with_sheet(LAUGHS)
    started = time.monotonic()
    with pytest.raises(FileFormatError) as exc:
        for _ in read_xlsx(data, "penduduk_16.08.01.2006.xlsx"):
            pass
    assert time.monotonic() - started < 5
    message = str(exc.value)
    assert "penduduk_16.08.01.2006.xlsx" in message
    # refused by defusedxml (entity declarations forbidden), not merely by a size limit
    assert "EntitiesForbidden" in message or "DTDForbidden" in message, message


def test_the_same_workbook_without_the_bomb_reads():
    ok = LAUGHS.split("<worksheet", 1)[1].replace("&lol9;", "1608010101900001")
    ok = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet' + ok
    batches = list(read_xlsx(workbook_with_sheet(ok), "ok.xlsx"))
    assert batches[0].to_pylist()[0]["nik"] == "1608010101900001"


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"])
def test_the_streaming_xlsx_reader_refuses_a_billion_laughs_too(monkeypatch, part):
    """Large workbooks bypass calamine and stream through lxml: the DTD is refused there too,
    in the sheet and in the shared strings, before anything is expanded."""
    import connectors.base.files as files

    monkeypatch.setattr(files, "STREAM_XLSX_BYTES", 0)  # stream even this small workbook
    sheet = LAUGHS
    if part == "xl/sharedStrings.xml":  # a clean sheet, the bomb in the shared strings
        sheet = LAUGHS.split("<worksheet", 1)[1].replace("&lol9;", "x")
        sheet = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet' + sheet
    data = workbook_with_sheet(sheet)
    if part == "xl/sharedStrings.xml":
        bomb = LAUGHS.split("<worksheet", 1)[0] + (
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            "<si><t>&lol9;</t></si></sst>"
        )
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, src.read(item.filename))
            dst.writestr("xl/sharedStrings.xml", bomb)
        data = out.getvalue()
    started = time.monotonic()
    with pytest.raises(FileFormatError) as exc:
        for _ in files.read_excel(data, "penduduk_16.08.01.2006.xlsx"):
            pass
    assert time.monotonic() - started < 5
    assert "penduduk_16.08.01.2006.xlsx" in str(exc.value)
    assert "DTDForbidden" in str(exc.value), exc.value


def test_the_streaming_reader_reads_what_calamine_reads(monkeypatch, tmp_path):
    """Same batches from both paths: shared and inline strings, numbers, booleans, dates and
    datetimes in date-formatted cells, a title row above the header, gaps between rows."""
    import datetime as dt

    import pyarrow as pa
    from openpyxl import Workbook

    import connectors.base.files as files

    wb = Workbook()
    ws = wb.active
    ws.title = "Data Penduduk"
    ws.append(["DATA PENDUDUK"])
    ws.append([])
    ws.append(["NIK", "Nama", "Lahir", "Ubah", "Aktif", "Nilai", "Serial"])
    ws.append(["1608010101900001", "Siti", dt.date(1990, 1, 1), dt.datetime(2026, 3, 1, 8, 30),
               True, 1.5, 45000])  # fmt: skip
    ws.append([1608010101900002, "Budi & Ani <x>", None, None, False, 7, None])
    ws.append([])
    ws.append(["1608010101900003", "  ", dt.date(1900, 2, 28), dt.time(7, 15), None, -2, 1])
    path = tmp_path / "w.xlsx"
    wb.save(path)

    def read(threshold: int) -> pa.Table:
        monkeypatch.setattr(files, "STREAM_XLSX_BYTES", threshold)
        with path.open("rb") as fh:
            return pa.Table.from_batches(list(files.read_excel(fh, "w.xlsx", expect=("NIK",))))

    calamine, streamed = read(1 << 60), read(0)
    assert streamed.to_pylist() == calamine.to_pylist()
    assert streamed.num_rows == 3 and streamed.column("_source_row").to_pylist() == ["4", "5", "7"]
