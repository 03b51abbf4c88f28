"""Rows of one .xlsx sheet in bounded memory, for workbooks too large for calamine.

python-calamine (0.9) reads a whole sheet into memory before the first row comes out: a
300,000-row SIAK export costs gigabytes. This reader streams the sheet XML out of the ZIP with
an incremental parser (lxml, hardened: no entity resolution, no network, and DTDs refused
as defusedxml refuses them, so XML bombs stay refused) and forgets every row once it was
handed on. Shared strings are held in memory when
the part is small and otherwise spilled to a temporary file with an offset index (8 bytes per
string in memory). Values come out as calamine gives them (numbers as float, booleans, dates,
datetimes and times for date-formatted cells), so :mod:`connectors.base.files` treats both the
same.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
import zipfile
from array import array
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, BinaryIO

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
#: shared-strings parts up to this size (uncompressed) are kept as a Python list
SST_IN_MEMORY_BYTES = 8 * 1024**2
# built-in number formats that are dates or times (ECMA-376 18.8.30, plus the CJK ones)
_BUILTIN_DATES = {*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)}


class XlsxStreamError(Exception):
    """The workbook's structure is not what an .xlsx must be (no such sheet, no workbook part)."""


def _iterparse(source: Any, tags: tuple[str, ...]) -> Iterator[Any]:
    """``end`` events of ``tags`` from lxml's incremental parser (C speed), hardened as
    defusedxml hardens the stdlib: entities are never resolved, nothing is fetched from the
    network, no huge-tree mode, and a document type declaration (where entity bombs and external
    entities live) is refused as :class:`defusedxml.DTDForbidden` before the first element is
    handed on."""
    from defusedxml import DTDForbidden
    from lxml import etree

    head = source.read(1 << 16)
    root_at = re.search(rb"<[A-Za-z_]", head)
    if b"<!DOCTYPE" in head[: root_at.start() if root_at else len(head)]:
        raise DTDForbidden(None, None, None)  # refused before libxml2 sees any declaration
    checked = False
    for _, elem in etree.iterparse(
        _Prefixed(head, source),
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    ):
        if not checked:
            info = elem.getroottree().docinfo
            if info.doctype or info.internalDTD is not None:
                raise DTDForbidden(info.root_name, info.system_url, info.public_id)
            checked = True
        yield elem


class _Prefixed:
    """``head`` (already read to look for a DTD) followed by the rest of ``source``."""

    def __init__(self, head: bytes, source: Any):
        self._head, self._source = head, source

    def read(self, size: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        data: bytes = self._source.read(size)
        return data


def _forget(elem: Any) -> None:
    """Free a handled element and the siblings before it (the tree never grows)."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _parse_part(zf: zipfile.ZipFile, path: str) -> Any:
    """A small part (workbook, rels, styles) parsed whole, DTDs refused."""
    from defusedxml.ElementTree import fromstring

    return fromstring(zf.read(path), forbid_dtd=True)


def is_xlsx(zf: zipfile.ZipFile) -> bool:
    return "xl/workbook.xml" in zf.namelist()


def _sheet_part(zf: zipfile.ZipFile, sheet: str | None) -> tuple[str, bool]:
    """The ZIP path of ``sheet`` (else the first sheet) and whether dates count from 1904."""
    wb = _parse_part(zf, "xl/workbook.xml")
    pr = wb.find(f"{NS}workbookPr")
    date1904 = pr is not None and pr.get("date1904", "").lower() in ("1", "true")
    sheets = [(s.get("name"), s.get(REL_ID)) for s in wb.iter(f"{NS}sheet")]
    if not sheets:
        raise XlsxStreamError("the workbook lists no sheet")
    if sheet is None:
        rid = sheets[0][1]
    else:
        found = [r for n, r in sheets if n == sheet]
        if not found:
            raise XlsxStreamError(f"no sheet {sheet!r} (sheets: {[n for n, _ in sheets]})")
        rid = found[0]
    rels = _parse_part(zf, "xl/_rels/workbook.xml.rels")
    for rel in rels.iter(PKG_REL):
        if rel.get("Id") == rid:
            target = rel.get("Target") or ""
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target))
            )
            return path, date1904
    raise XlsxStreamError(f"sheet relationship {rid!r} not found")


def _date_styles(zf: zipfile.ZipFile) -> set[int]:
    """Indexes of cell styles (``s`` attribute) whose number format is a date or time."""
    if "xl/styles.xml" not in zf.namelist():
        return set()
    from openpyxl.styles.numbers import is_date_format

    root = _parse_part(zf, "xl/styles.xml")
    custom = {
        int(f.get("numFmtId", "-1")): f.get("formatCode") or "" for f in root.iter(f"{NS}numFmt")
    }
    xfs = root.find(f"{NS}cellXfs")
    out: set[int] = set()
    for i, xf in enumerate(xfs if xfs is not None else []):
        fid = int(xf.get("numFmtId", "0"))
        if fid in custom:
            if is_date_format(custom[fid]):
                out.add(i)
        elif fid in _BUILTIN_DATES:
            out.add(i)
    return out


def _text(elem: Any) -> str:
    """The text of an ``<si>``/``<is>``: its runs, without phonetic (``rPh``) runs."""
    parts: list[str] = []
    for child in elem:
        if child.tag == f"{NS}t":
            parts.append(child.text or "")
        elif child.tag == f"{NS}r":
            t = child.find(f"{NS}t")
            parts.append((t.text or "") if t is not None else "")
    return "".join(parts)


class SharedStrings:
    """The workbook's shared strings: a list when small, else a file plus an offset index."""

    def __init__(self, zf: zipfile.ZipFile):
        self._list: list[str] | None = None
        self._fd: int | None = None
        self._offsets = array("q", [0])
        try:
            info = zf.getinfo("xl/sharedStrings.xml")
        except KeyError:
            self._list = []
            return
        in_memory = info.file_size <= SST_IN_MEMORY_BYTES
        if in_memory:
            self._list = []
        else:
            fd, path = tempfile.mkstemp(prefix="simpul-sst-")
            os.unlink(path)  # gone from the folder at once; the descriptor keeps it
            self._fd = fd
        buf: list[bytes] = []
        pending = 0
        with zf.open(info) as src:
            for elem in _iterparse(src, (f"{NS}si",)):
                text = _text(elem)
                _forget(elem)
                if self._list is not None:
                    self._list.append(text)
                    continue
                raw = text.encode("utf-8")
                buf.append(raw)
                pending += len(raw)
                self._offsets.append(self._offsets[-1] + len(raw))
                if pending > 1 << 20:
                    os.write(self._fd, b"".join(buf))  # type: ignore[arg-type]
                    buf, pending = [], 0
        if self._fd is not None and buf:
            os.write(self._fd, b"".join(buf))
        self.get = lru_cache(maxsize=4096)(self._get)

    def _get(self, index: int) -> str:
        if self._list is not None:
            return self._list[index]
        start, end = self._offsets[index], self._offsets[index + 1]
        return os.pread(self._fd, end - start, start).decode("utf-8")  # type: ignore[arg-type]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _col_index(ref: str) -> int:
    """``"AB12"`` -> 27 (zero-based column)."""
    n = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            n = n * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            n = n * 26 + ord(ch) - 96
        else:
            break
    return n - 1


def _start(ref: str | None) -> tuple[int, int]:
    """First row (1-based) and column (0-based) of a ``<dimension ref="B3:K90">``."""
    if not ref:
        return 1, 0
    first = ref.split(":")[0]
    digits = "".join(c for c in first if c.isdigit())
    return (int(digits) if digits else 1), max(_col_index(first), 0)


def excel_date(serial: float, date1904: bool) -> date | datetime | time:
    """An Excel serial as calamine returns it: a time below 1, a date when whole, else a
    datetime (1900 system with Excel's phantom 29 Feb 1900, or the 1904 system)."""
    if 0 <= serial < 1:
        ms = round(serial * 86_400_000)
        return (datetime.min + timedelta(milliseconds=min(ms, 86_399_999))).time()
    if date1904:
        epoch = datetime(1904, 1, 1)
    else:
        epoch = datetime(1899, 12, 31) if serial < 60 else datetime(1899, 12, 30)
    value = epoch + timedelta(milliseconds=round(serial * 86_400_000))
    if value.time() == time(0):
        return value.date()
    return value


def iter_rows(fh: BinaryIO, sheet: str | None = None) -> Iterator[list[Any]]:
    """Rows of ``sheet`` (default the first) from its first used row and column on, one list
    per row, empty rows as ``[]`` (row numbers stay those Excel shows, offset by the used
    range's start as calamine does). Memory: one row plus the shared strings' index."""
    with zipfile.ZipFile(fh) as zf:
        if not is_xlsx(zf):
            raise XlsxStreamError("not an .xlsx workbook (no xl/workbook.xml)")
        part, date1904 = _sheet_part(zf, sheet)
        dates = _date_styles(zf)
        sst = SharedStrings(zf)
        try:
            yield from _sheet_rows(zf, part, dates, date1904, sst)
        finally:
            sst.close()


def _sheet_rows(
    zf: zipfile.ZipFile, part: str, dates: set[int], date1904: bool, sst: SharedStrings
) -> Iterator[list[Any]]:
    c_tag = f"{NS}c"
    row_tag, dim_tag = f"{NS}row", f"{NS}dimension"
    cols: dict[str, int] = {}  # "AB12" letters -> column index, cached
    start_row, start_col = 1, 0
    next_row = None
    with zf.open(part) as src:
        for elem in _iterparse(src, (dim_tag, row_tag)):
            if elem.tag == dim_tag:
                start_row, start_col = _start(elem.get("ref"))
                continue
            number = int(elem.get("r") or (next_row or start_row))
            if next_row is None:
                next_row = start_row
            if number < next_row:  # above the used range (or out of order): nothing to add
                _forget(elem)
                continue
            while next_row < number:  # rows Excel left out are empty rows
                yield []
                next_row += 1
            values: list[Any] = []
            col = start_col - 1
            for c in elem.iterchildren(c_tag):
                ref = c.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = cols.get(letters, -1)
                    if col < 0:
                        col = cols[letters] = _col_index(letters)
                else:
                    col += 1
                at = col - start_col
                if at < 0:
                    continue
                value = _cell_value(c, dates, date1904, sst)
                if at >= len(values):
                    values.extend([None] * (at - len(values) + 1))
                values[at] = value
            _forget(elem)  # the row is handed on: forget it
            next_row = number + 1
            yield values


def _cell_value(c: Any, dates: set[int], date1904: bool, sst: SharedStrings) -> Any:
    """The value of one ``<c>`` element by its type: shared or inline text, a number (a date
    when its style is a date format), a boolean, an ISO date, else the raw text."""
    t = c.get("t", "n")
    if t == "inlineStr":
        inline = c.find(f"{NS}is")
        return _text(inline) if inline is not None else None
    v = c.find(f"{NS}v")
    raw = v.text if v is not None else None
    if raw is None:
        return None
    if t == "s":
        return sst.get(int(raw))
    if t == "n":
        value: Any = float(raw)
        s = c.get("s")
        if s is not None and dates and int(s) in dates:
            value = excel_date(value, date1904)
        return value
    if t == "b":
        return raw.strip() in ("1", "true")
    if t == "d":
        return datetime.fromisoformat(raw)
    return raw  # "str" (a formula's text), "e" (an error such as #N/A)
