"""A minimal, fast .xlsx writer for the simulators' Excel drops.

openpyxl's write-only mode builds a cell object and an lxml element per value (~15 us a cell),
then the ZIP was read back and re-compressed for fixed timestamps: writing the demo's village
workbooks and SIAK export (~3 M cells) took about a minute. This writes the same sheet XML
openpyxl does (inline strings, ``xml:space="preserve"`` where whitespace must survive,
numbers as ``%.16g``, dates as serials with a ``yyyy-mm-dd`` style, ``None`` left out)
straight into a ZIP whose entries carry ``when``: same input, same bytes, ~10x faster.
Readers see the same cells (tests compare calamine's view of both writers).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from simpul.synth.injector import EXCEL_EPOCH

ROWS_PER_WRITE = 2_000
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
DATE_STYLE, DATETIME_STYLE = 1, 2  # cellXfs of styles.xml: yyyy-mm-dd, yyyy-mm-dd h:mm:ss


def column_letters(n: int) -> list[str]:
    """A, B, ..., Z, AA, ... for the first ``n`` columns."""
    out = []
    for i in range(1, n + 1):
        s = ""
        while i:
            i, r = divmod(i - 1, 26)
            s = chr(65 + r) + s
        out.append(s)
    return out


def _cell(ref: str, v: Any) -> str:
    """One ``<c>`` element, as openpyxl's write-only mode writes that value."""
    if v is None:
        return ""  # openpyxl leaves an empty cell out
    kind = type(v)
    if kind is str:
        if not v:
            return f'<c r="{ref}" t="inlineStr"/>'
        if _ILLEGAL.search(v):
            raise ValueError(f"cell {ref}: a control character cannot be stored in a worksheet")
        space = ' xml:space="preserve"' if v != v.strip() else ""
        return f'<c r="{ref}" t="inlineStr"><is><t{space}>{v.translate(_ESCAPE)}</t></is></c>'
    if kind is bool:
        return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
    if kind is int or kind is float:
        return f'<c r="{ref}" t="n"><v>{v:.16g}</v></c>'
    if kind is date:
        return f'<c r="{ref}" s="{DATE_STYLE}" t="n"><v>{(v - EXCEL_EPOCH).days}</v></c>'
    if kind is datetime and v.tzinfo is None:
        serial = (v - datetime.combine(EXCEL_EPOCH, datetime.min.time())).total_seconds() / 86400
        return f'<c r="{ref}" s="{DATETIME_STYLE}" t="n"><v>{serial:.16g}</v></c>'
    raise TypeError(f"cell {ref}: cannot write a {kind.__name__} to a worksheet")


def _sheet(fh: Any, rows: Iterable[Sequence[Any]]) -> None:
    """Stream one worksheet's XML into the open ZIP entry ``fh``."""
    fh.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
    letters: list[str] = []
    chunk: list[str] = []
    for r, values in enumerate(rows, start=1):
        if len(values) > len(letters):
            letters = column_letters(len(values))
        chunk.append(f'<row r="{r}">')
        chunk.extend([_cell(f"{c}{r}", v) for c, v in zip(letters, values, strict=False)])
        chunk.append("</row>")
        if r % ROWS_PER_WRITE == 0:
            fh.write("".join(chunk).encode())
            chunk = []
    fh.write(("".join(chunk) + "</sheetData></worksheet>").encode())


def _parts(names: Sequence[str], when: datetime) -> dict[str, str]:
    """Everything of the package but the worksheets: content types, relations, properties,
    the workbook and the two date styles."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(names) + 1)
    )
    office = "application/vnd.openxmlformats-officedocument"
    return {
        "[Content_Types].xml": f'{_HEAD}<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{office}.spreadsheetml.sheet.'
        f'main+xml"/>{sheets}<Override PartName="/xl/styles.xml" ContentType="{office}.'
        'spreadsheetml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="'
        'application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="'
        f'/docProps/app.xml" ContentType="{office}.extended-properties+xml"/></Types>',
        "_rels/.rels": f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_PKG}/relationships/metadata/core-properties" '
        f'Target="docProps/core.xml"/><Relationship Id="rId3" Type="{_REL}/extended-'
        'properties" Target="docProps/app.xml"/></Relationships>',
        "docProps/app.xml": f'{_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/'
        'officeDocument/2006/extended-properties"><Application>Microsoft Excel</Application>'
        "</Properties>",
        "docProps/core.xml": f'{_HEAD}<cp:coreProperties xmlns:cp="{_PKG}/metadata/core-'
        'properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.'
        'org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>'
        'simpul-simulator</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">'
        f'{stamp}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}'
        "</dcterms:modified></cp:coreProperties>",
        "xl/workbook.xml": f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        + "".join(
            f'<sheet name="{n.translate(_ESCAPE)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, n in enumerate(names, start=1)
        )
        + "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        + f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" '
        'Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'{_HEAD}<styleSheet xmlns="{_MAIN}"><numFmts count="2">'
        '<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" '
        'formatCode="yyyy-mm-dd h:mm:ss"/></numFmts><fonts count="1"><font><sz val="11"/>'
        '<name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill '
        'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" '
        'fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" '
        'borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" '
        'fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles '
        'count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
    }


def xlsx_bytes(sheets: Sequence[tuple[str, Iterable[Sequence[Any]]]], when: datetime) -> bytes:
    """A workbook of ``(sheet name, rows)``; every ZIP entry dated ``when`` (reproducible)."""
    stamp = when.astimezone(UTC).timetuple()[:6]

    def info(name: str) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(name, date_time=stamp)
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        return zi

    out = io.BytesIO()
    parts = _parts([name for name, _ in sheets], when)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("[Content_Types].xml", "_rels/.rels", "docProps/app.xml"):
            zf.writestr(info(name), parts[name])
        zf.writestr(info("docProps/core.xml"), parts["docProps/core.xml"])
        for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"):
            zf.writestr(info(name), parts[name])
        for i, (_, rows) in enumerate(sheets, start=1):
            with zf.open(info(f"xl/worksheets/sheet{i}.xml"), "w", force_zip64=True) as fh:
                _sheet(fh, rows)
    return out.getvalue()


__all__ = ["column_letters", "xlsx_bytes"]
