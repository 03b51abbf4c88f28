"""File drops through fsspec: a local folder, SFTP or S3 are one code path.

Readers yield all-string Arrow batches plus two lineage columns, ``_source_file`` and
``_source_row`` (the row number a person sees in Excel or a text editor), so every error and
quarantine entry can name the file, row and field. NIK/KK cells are read as text; a number
that Excel already stored as a float is kept as its digits (the mapping flags the precision
loss).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa

from connectors.base.contract import rows_to_batch

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
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
        return value.isoformat()
    text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: keep the spot visible, not the byte
        text = text.replace("\x00", "\ufffd")
    return text if text != "" else None


def _dedupe_header(header: list[Any], name: str) -> list[str]:
    cols: list[str] = []
    for i, h in enumerate(header):
        col = (_cell(h) or "").strip()
        if not col:
            col = f"column_{i + 1}"
        if col in cols:
            raise FileFormatError(f"{name}: column {col!r} appears twice in the header")
        cols.append(col)
    return cols


def _batches(
    rows: Iterator[tuple[int, list[Any]]], columns: list[str], name: str
) -> Iterator[pa.RecordBatch]:
    out_cols = columns + [SOURCE_FILE, SOURCE_ROW]
    buf: list[dict[str, Any]] = []
    for number, values in rows:
        if all(v in (None, "") for v in values):
            continue  # blank line
        if len(values) > len(columns) and any(v not in (None, "") for v in values[len(columns) :]):
            raise FileFormatError(
                f"{name}, row {number}: {len(values)} values for {len(columns)} columns"
            )
        rec = {c: _cell(v) for c, v in zip(columns, values, strict=False)}
        rec[SOURCE_FILE] = name
        rec[SOURCE_ROW] = str(number)
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
        columns = _dedupe_header(header, name)
        first = header_row + 1 + skip_rows_after_header
        rows = ((n, list(v)) for n, v in enumerate(it, start=header_row + 1) if n >= first)
        yield from _batches(rows, columns, name)
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken workbook may fail too
            pass


def _why(exc: BaseException) -> str:
    """Short reason for a broken file: the exception type and its first line, no cell data."""
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safe_rows(ws, name: str) -> Iterator[tuple]:
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


def sniff_text(data: bytes, name: str) -> str:
    """Decode with BOM/encoding detection (UTF-8, UTF-16, cp1252 exports all occur).

    Without a BOM: UTF-8, else Windows-1252 (what Excel on an Indonesian Windows writes) when
    the bytes are valid cp1252 text, else the best guess of charset-normalizer. A file that
    is none of these (or binary) is a FileFormatError.
    """
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:].decode("utf-8")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{name}: not valid text after its byte-order mark ({exc.reason})"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if not _CONTROL_BYTES.search(data):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        raise FileFormatError(f"{name}: unknown text encoding (binary file?)") from None
    try:
        return data.decode(best.encoding, errors="strict")
    except (UnicodeDecodeError, LookupError):
        raise FileFormatError(f"{name}: unknown text encoding (binary file?)") from None


# C0 controls other than tab, LF, CR: text exports do not contain them, binary files do
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
DELIMITERS = ",;\t|"


def _delimiter(text: str) -> str:
    """The delimiter: csv.Sniffer on the start of the file, else the candidate that occurs
    most often in the header line (a sniffer confused by one ragged row must not turn the
    whole file into one column)."""
    try:
        return csv.Sniffer().sniff(text[:20_000], delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(data: bytes, name: str) -> Iterator[pa.RecordBatch]:
    """CSV with detected encoding and delimiter (',' ';' '\\t' '|')."""
    text = sniff_text(data, name)
    if not text.strip():
        raise FileFormatError(f"{name}: empty file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
        while not any(h.strip() for h in header):  # blank lines before the header
            header = next(reader)
    except StopIteration:
        raise FileFormatError(f"{name}: empty file") from None
    except csv.Error as exc:
        raise FileFormatError(f"{name}, row {reader.line_num}: {exc}") from None
    columns = _dedupe_header(header, name)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for values in reader:
                yield reader.line_num, values
        except csv.Error as exc:
            raise FileFormatError(f"{name}, row {reader.line_num}: {exc}") from None

    yield from _batches(rows(), columns, name)


def open_bytes(path: str) -> bytes:
    with fsspec.open(path, "rb") as fh:
        return fh.read()
