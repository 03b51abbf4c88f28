"""Text drops: encoding and delimiter detection and a streaming CSV reader whose broken rows
(ragged, an unterminated quote) become problem rows naming the line instead of failing the file.

The batches and lineage columns are those of :mod:`connectors.base.files`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from connectors.base.files import (
    HEADER_SEARCH_ROWS,
    FileFormatError,
    header_columns,
    norm_label,
    text_batches,
)


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


SAMPLE_BYTES = 1 << 20
MAX_RECORD_LINES = 50  # a quoted field spanning more lines than this is an unterminated quote


def _encoding(head: bytes, name: str, complete: bool) -> str:
    """The encoding of a text file from its first bytes (see :func:`sniff_text`)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if not _CONTROL_BYTES.search(head):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(head[:200_000]).best()
    if best is None:
        raise FileFormatError(f"{name}: unknown text encoding (binary file?)")
    return best.encoding


BROKEN_QUOTE = "unterminated quote"


def _records(
    lines: Iterator[tuple[int, str]], delimiter: str, width: int
) -> Iterator[tuple[int, list[str], str | None]]:
    """CSV records with the physical line each starts on. A quote left open (the record runs
    past ``MAX_RECORD_LINES`` lines or the end of the file, or swallows lines into a wrong
    field count) becomes a problem row for its first line, and the lines after it are read
    again on their own, so one stray quote costs one row, not the rest of the file."""
    from collections import deque

    again: deque[tuple[int, str]] = deque()
    pending: list[tuple[int, str]] = []
    quotes = 0

    def broken() -> tuple[int, list[str], str]:
        nonlocal pending, quotes
        first, rest = pending[0], pending[1:]
        again.extendleft(reversed(rest))
        pending, quotes = [], 0
        # the line alone, as evidence: the open quote runs to its end
        try:
            values = next(csv.reader([first[1].rstrip("\r\n")], delimiter=delimiter), [])
        except csv.Error:
            values = []
        return (
            first[0],
            values[:width],
            f"row {first[0]}: unterminated quote / baris {first[0]}: tanda kutip tidak ditutup",
        )

    while True:
        item = again.popleft() if again else next(lines, None)
        if item is None:
            if not pending:
                return
            yield broken()
            continue
        pending.append(item)
        quotes += item[1].count('"')
        if quotes % 2:
            if len(pending) >= MAX_RECORD_LINES:
                yield broken()
            continue
        try:
            values = next(csv.reader(["".join(t for _, t in pending)], delimiter=delimiter), [])
        except csv.Error as exc:  # e.g. a field above the csv module's size limit
            line = pending[0][0]
            pending, quotes = [], 0
            yield line, [], f"row {line}: {exc} / baris {line}: {exc}"
            continue
        if len(pending) > 1 and len(values) != width:
            yield broken()
            continue
        yield pending[0][0], values, None
        pending, quotes = [], 0


def read_csv(
    data: bytes | BinaryIO, name: str, *, expect: tuple[str, ...] = ()
) -> Iterator[pa.RecordBatch]:
    """CSV with detected encoding and delimiter (',' ';' '\\t' '|'), streamed line by line
    (memory holds one batch, not the file). Ragged rows and broken quotes become problem rows
    naming the line."""
    fh: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    encoding, sample = _open_text(fh, name)
    text = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline="")
    wanted = {norm_label(e) for e in expect}
    delimiter = _pick_delimiter(sample, wanted)
    lines = _physical_lines(text, name, encoding)
    header = _csv_header(lines, delimiter, wanted)
    if wanted and not header:
        raise FileFormatError(
            f"{name}: no header line with the columns {list(expect)} in the first "
            f"{HEADER_SEARCH_ROWS} lines / tidak ada baris judul dengan kolom {list(expect)}"
        )
    if not any(h.strip() for h in header):
        raise FileFormatError(f"{name}: empty file")
    columns = header_columns(header, name)
    yield from text_batches(_records(lines, delimiter, len(columns)), columns, name)


def _open_text(fh: BinaryIO, name: str) -> tuple[str, str]:
    """The encoding of ``fh`` and a decoded sample of its start; ``fh`` is rewound. An empty
    or binary file is a FileFormatError."""
    head = fh.read(SAMPLE_BYTES)
    complete = len(head) < SAMPLE_BYTES
    if complete and not head.strip():
        raise FileFormatError(f"{name}: empty file")
    if complete:
        sniff_text(head, name)  # the whole file: the strict checks of the in-memory reader
    elif b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileFormatError(f"{name}: unknown text encoding (binary file?)")
    encoding = _encoding(head, name, complete)
    sample = head[:60_000].decode(encoding, errors="ignore")
    fh.seek(0)
    if not sample.strip():
        raise FileFormatError(f"{name}: empty file")
    return encoding, sample


def _pick_delimiter(sample: str, wanted: set[str]) -> str:
    """The sniffed delimiter, unless another one splits some early line into the expected
    labels (that one wins)."""
    if wanted:
        for d in DELIMITERS:
            if any(
                wanted <= {norm_label(x) for x in line.split(d)}
                for line in sample.splitlines()[:HEADER_SEARCH_ROWS]
            ):
                return d
    return _delimiter(sample)


def _physical_lines(text: io.TextIOWrapper, name: str, encoding: str) -> Iterator[tuple[int, str]]:
    """The file's lines with their numbers; bytes not valid in ``encoding`` name the line."""
    number = 0
    try:
        for line in text:
            number += 1
            yield number, line
    except UnicodeDecodeError:
        raise FileFormatError(
            f"{name}, row {number + 1}: not valid {encoding} text / baris {number + 1}: "
            f"bukan teks {encoding} yang sah"
        ) from None


def _csv_header(lines: Iterator[tuple[int, str]], delimiter: str, wanted: set[str]) -> list[str]:
    """The header: the first non-blank line, or with ``wanted`` labels the first line holding
    them all within the first rows (title lines above it are skipped, as in read_excel);
    empty when none does."""
    for number, line in lines:
        if not line.strip():
            continue
        header = next(csv.reader([line], delimiter=delimiter, strict=False), [])
        if not wanted or wanted <= {norm_label(h) for h in header}:
            return header
        if number >= HEADER_SEARCH_ROWS:
            break
    return []
