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
