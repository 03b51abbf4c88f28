"""File drops through fsspec: a local folder, SFTP or S3 are one code path.

Readers yield all-string Arrow batches plus two lineage columns, ``_source_file`` and
``_source_row`` (the row number a person sees in Excel or a text editor), so every error and
quarantine entry can name the file, row and field. NIK/KK cells are read as text; a number
that Excel already stored as a float is kept as its digits (the mapping flags the precision
loss).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from connectors.base.contract import rows_to_batch

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
# a row the reader could only partly make sense of (ragged, broken quote): the pipeline
# quarantines it with this reason instead of refusing the file
ROW_PROBLEM = "_row_problem"
# something about a row worth a warning (a 16-digit NIK typed as a number cell)
ROW_WARNING = "_row_warning"
LINEAGE_COLUMNS = (SOURCE_FILE, SOURCE_ROW, ROW_PROBLEM, ROW_WARNING)
BATCH_ROWS = 10_000


class FileFormatError(Exception):
    """A file that cannot be read as its format; the message names the file (and row).
    Control characters (a newline or ANSI escape in a file name) are shown escaped, so a
    delivered name cannot forge log lines or operator messages."""

    def __init__(self, message: str) -> None:
        safe = "".join(
            c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" for c in str(message)
        )
        super().__init__(safe)


@dataclass(frozen=True)
class DropFile:
    path: str
    mtime: str  # ISO timestamp or the fsspec-reported value, used as the incremental cursor
    size: int


def list_drop(url: str, patterns: tuple[str, ...]) -> list[DropFile]:
    """Files in a drop folder matching ``patterns``, oldest first (mtime, then name)."""
    import fsspec  # on first use: a transform imports this module only for its column names

    fs, root = fsspec.core.url_to_fs(url)
    out: list[DropFile] = []
    for pattern in patterns:
        for path in fs.glob(f"{root.rstrip('/')}/{pattern}"):
            info = fs.info(path)
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
            if hasattr(mtime, "isoformat"):
                mtime = mtime.isoformat()
            else:
                from datetime import UTC, datetime

                mtime = datetime.fromtimestamp(float(mtime), UTC).isoformat()
            out.append(
                DropFile(
                    path=fs.unstrip_protocol(path),
                    mtime=str(mtime),
                    size=int(info.get("size") or 0),
                )
            )
    return sorted(set(out), key=lambda f: (f.mtime, f.path))


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        iso: str = value.isoformat()
        return iso
    text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: keep the spot visible, not the byte
        text = text.replace("\x00", "\ufffd")
    return text if text != "" else None


def header_columns(header: list[Any], name: str) -> list[str]:
    """The header's cells as column names (``column_<n>`` for a blank one); a name twice is a
    FileFormatError."""
    cols: list[str] = []
    for i, h in enumerate(header):
        col = (_cell(h) or "").strip()
        if not col:
            col = f"column_{i + 1}"
        if col in cols:
            raise FileFormatError(f"{name}: column {col!r} appears twice in the header")
        cols.append(col)
    return cols


def _number_cell_note(column: str, value: Any) -> str | None:
    """A long identifier typed as a number cell: Excel keeps 15 digits, so it may be damaged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    digits = _cell(value) or ""
    if len(digits) < 15:
        return None
    return (
        f"{column}: typed as a number cell (Excel keeps 15 digits) / {column}: diketik sebagai "
        f"sel angka (Excel hanya menyimpan 15 digit)"
    )


def text_batches(
    rows: Iterator[tuple[int, list[Any]] | tuple[int, list[Any], str | None]],
    columns: list[str],
    name: str,
) -> Iterator[pa.RecordBatch]:
    """Rows -> all-text batches with lineage; a row with more values than the header has, or
    one the reader flagged (a third tuple item), is kept with a ``_row_problem`` reason."""
    out_cols = columns + list(LINEAGE_COLUMNS)
    buf: list[dict[str, Any]] = []
    for item in rows:
        number, values = item[0], item[1]
        problem = item[2] if len(item) > 2 else None
        if not problem and all(v in (None, "") for v in values):
            continue  # blank line
        if (
            not problem
            and len(values) > len(columns)
            and any(v not in (None, "") for v in values[len(columns) :])
        ):
            problem = (
                f"{name}, row {number}: {len(values)} values for {len(columns)} columns / "
                f"{name}, baris {number}: {len(values)} nilai untuk {len(columns)} kolom"
            )
        rec = {c: _cell(v) for c, v in zip(columns, values, strict=False)}
        notes = [n for c, v in zip(columns, values, strict=False) if (n := _number_cell_note(c, v))]
        rec[SOURCE_FILE] = name
        rec[SOURCE_ROW] = str(number)
        rec[ROW_PROBLEM] = problem
        rec[ROW_WARNING] = "; ".join(notes) if notes else None
        buf.append(rec)
        if len(buf) >= BATCH_ROWS:
            yield rows_to_batch(buf, out_cols)
            buf = []
    if buf:
        yield rows_to_batch(buf, out_cols)


def read_xlsx(
    data: bytes,
    name: str,
    *,
    sheet: str | None = None,
    header_row: int = 1,
    skip_rows_after_header: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Stream one sheet of an .xlsx/.xlsm (read-only mode: constant memory).

    A damaged workbook (bad ZIP, broken XML in any part, which openpyxl parses lazily while
    rows stream) is a FileFormatError naming the file and, once rows stream, the row.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises anything on a broken file
        raise FileFormatError(f"{name}: not a readable Excel workbook ({_why(exc)})") from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise FileFormatError(f"{name}: no sheet {sheet!r} (sheets: {wb.sheetnames})")
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
        except Exception as exc:  # noqa: BLE001
            raise FileFormatError(f"{name}: sheet cannot be read ({_why(exc)})") from None
        it = _safe_rows(ws, name)
        header = None
        for number, values in enumerate(it, start=1):
            if number == header_row:
                header = list(values)
                break
        if header is None:
            raise FileFormatError(f"{name}: empty sheet, no header on row {header_row}")
        columns = header_columns(header, name)
        first = header_row + 1 + skip_rows_after_header
        rows = ((n, list(v)) for n, v in enumerate(it, start=header_row + 1) if n >= first)
        yield from text_batches(rows, columns, name)
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001 - closing a broken workbook may fail too
            pass


def norm_label(text: Any) -> str:
    """A header label compared without case or extra spacing."""
    return " ".join(str(text or "").split()).casefold()


def find_header(rows: list[list[Any]], expect: tuple[str, ...], min_cells: int = 3) -> int:
    """Index of the header row among the first ``rows``: the first row holding every label in
    ``expect`` (case and spacing ignored), else the first with ``min_cells`` text cells and no
    numbers. Title rows, merged cells and blank lines above the header are skipped."""
    wanted = {norm_label(e) for e in expect}
    for i, values in enumerate(rows):
        labels = {norm_label(v) for v in values if v not in (None, "")}
        if wanted and wanted <= labels:
            return i
    if wanted:
        return -1
    for i, values in enumerate(rows):
        cells = [v for v in values if v not in (None, "")]
        if len(cells) >= min_cells and all(isinstance(v, str) for v in cells):
            return i
    return -1


HEADER_SEARCH_ROWS = 30
#: an .xlsx at least this large is streamed (connectors.base.xlsx_stream) instead of being
#: loaded whole by calamine, whose memory grows with the sheet (bench/RESULTS.md, "Excel memory")
STREAM_XLSX_BYTES = 20 * 1024**2


def _size(data: bytes | bytearray | BinaryIO) -> int:
    if isinstance(data, bytes | bytearray):
        return len(data)
    try:
        here = data.tell()
        end = data.seek(0, 2)
        data.seek(here)
        return int(end) - int(here)
    except Exception:  # noqa: BLE001 - a stream without seek: calamine reads it whole anyway
        return -1


def _is_zip(data: bytes | bytearray | BinaryIO) -> bool:
    if isinstance(data, bytes | bytearray):
        return bytes(data[:4]) == b"PK\x03\x04"
    here = data.tell()
    head = data.read(4)
    data.seek(here)
    return head == b"PK\x03\x04"


def _streamed_rows(
    data: bytes | bytearray | BinaryIO, name: str, sheet: str | None
) -> Iterator[list[Any]]:
    """Rows of a large .xlsx through the bounded-memory reader; a broken workbook is a
    FileFormatError naming the file (and the row once rows stream)."""
    from connectors.base.xlsx_stream import XlsxStreamError, iter_rows

    src = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    it = iter_rows(src, sheet)
    number = 0
    while True:
        try:
            values = next(it)
        except StopIteration:
            return
        except XlsxStreamError as exc:
            raise FileFormatError(f"{name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - bad ZIP, XML errors, defusedxml refusals
            where = f", row {number + 1}" if number else ""
            raise FileFormatError(
                f"{name}{where}: not a readable Excel workbook ({_why(exc)})"
            ) from None
        number += 1
        yield values


def read_excel(
    data: bytes | BinaryIO,
    name: str,
    *,
    sheet: str | None = None,
    expect: tuple[str, ...] = (),
) -> Iterator[pa.RecordBatch]:
    """One sheet of an .xlsx/.xlsm/.xls/.ods through python-calamine (Rust; 5-10x faster than
    openpyxl). The header is the first row holding every label in ``expect`` within the first
    rows (title rows and merged cells above it are skipped). Numbers stay numbers until
    :func:`_cell` turns them into their digits, so a NIK typed as a number is noticed.

    An .xlsx of :data:`STREAM_XLSX_BYTES` or more is streamed in bounded memory instead
    (calamine holds the whole sheet; .xls and .ods always go through calamine)."""
    if _size(data) >= STREAM_XLSX_BYTES and _is_zip(data):
        yield from _rows_after_header(_streamed_rows(data, name, sheet), name, expect)
        return
    wb = _calamine_workbook(data, name)
    try:
        if sheet and sheet not in wb.sheet_names:
            raise FileFormatError(f"{name}: no sheet {sheet!r} (sheets: {wb.sheet_names})")
        try:
            ws = wb.get_sheet_by_name(sheet) if sheet else wb.get_sheet_by_index(0)
            it = iter(ws.iter_rows())
        except Exception as exc:  # noqa: BLE001
            raise FileFormatError(f"{name}: sheet cannot be read ({_why(exc)})") from None
        yield from _rows_after_header(it, name, expect)
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass


def _calamine_workbook(data: bytes | BinaryIO, name: str) -> Any:
    """The workbook read whole by calamine; a broken file is a FileFormatError."""
    from python_calamine import CalamineWorkbook

    raw = data if isinstance(data, bytes | bytearray) else data.read()
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types on a broken file
        raise FileFormatError(f"{name}: not a readable Excel workbook ({_why(exc)})") from None


def _rows_after_header(
    it: Iterator[Any], name: str, expect: tuple[str, ...]
) -> Iterator[pa.RecordBatch]:
    """Batches of the sheet rows below the header found in the first rows of ``it``."""
    head: list[list[Any]] = []
    for values in it:
        head.append(list(values))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    at = find_header(head, expect)
    if at < 0:
        want = f"the columns {list(expect)}" if expect else "a header"
        raise FileFormatError(
            f"{name}: no header row with {want} in the first {HEADER_SEARCH_ROWS} rows / "
            f"tidak ada baris judul dengan kolom {list(expect)} pada "
            f"{HEADER_SEARCH_ROWS} baris pertama"
        )
    columns = header_columns(head[at], name)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = at + 1
        for values in head[at + 1 :]:
            number += 1
            yield number, values
        for values in it:
            number += 1
            yield number, list(values)

    yield from text_batches(rows(), columns, name)


def _why(exc: BaseException) -> str:
    """Short reason for a broken file: the exception type and its first line, no cell data.

    A workbook refused by defusedxml (openpyxl parses through it: DTDs and entity declarations,
    i.e. XML bombs and external entities) says so, whatever openpyxl wrapped it in."""
    cause: BaseException | None = exc
    while cause is not None:
        if type(cause).__module__.startswith("defusedxml"):
            return (
                f"{type(cause).__name__}: XML entity/DTD declarations are refused (possible "
                "XML bomb) / deklarasi entitas XML ditolak"
            )
        cause = cause.__cause__ or cause.__context__
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safe_rows(ws: Any, name: str) -> Iterator[tuple[Any, ...]]:
    rows = ws.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - broken XML surfaces while streaming
            raise FileFormatError(
                f"{name}, row {number + 1}: workbook damaged ({_why(exc)})"
            ) from None
        number += 1
        yield values


def open_bytes(path: str) -> bytes:
    import fsspec

    with fsspec.open(path, "rb") as fh:
        data: bytes = fh.read()
    return data
