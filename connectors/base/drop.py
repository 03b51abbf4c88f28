"""Taking files from a drop folder nobody controls: a file ledger, complete files only, limits.

A drop folder is written by people with flash disks, WinSCP, ``cp -p`` and unzip, so neither a
file's modification time nor its presence says anything about whether it is new or complete.
:class:`FileDrop` therefore decides per file, by content:

- **Ledger.** Every file is identified by its SHA-256. Content already loaded (``known``) is
  skipped with "already loaded as <load_id>"; new content is read whatever its mtime; changed
  content under a known name is a new delivery (a correction).
- **Complete files only.** Office lock files (``~$*``), ``*.part``, ``*.tmp`` and hidden files
  are ignored. A file is taken once its size and mtime stayed unchanged over
  ``settle_seconds`` (or at once when a ``<name>.done``/``<name>.ok`` marker sits beside it);
  it is checked again after reading, so a file still growing waits for the next run.
- **Hostile drops.** Symlinks and anything resolving outside the drop root are refused, never
  followed; a refusal never quotes file content. ZIP members with absolute or ``..`` paths
  are refused; size, member-count, total-uncompressed-size and compression-ratio limits are
  checked from the ZIP directory before anything is decompressed.
- **One bad file never blocks the others.** A file that cannot be read is recorded as
  ``rejected`` with a reason in English and Indonesian; the other files still load. Each
  file's rows are spilled to a temporary Parquet file first, so a file that breaks half-way
  never lands half.

The outcome of every file is appended to ``ReadResult.files`` (a list of dicts); the pipeline
stores them in ``ops.files`` in the transaction that loads the delivery.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base.contract import Connector, ReadResult
from connectors.base.files import LINEAGE_COLUMNS, FileFormatError

IGNORED = ("~$*", "*.part", "*.tmp", ".*", "*.crdownload", "*.partial")
MARKERS = (".done", ".ok")
FILE_MTIME = "_file_mtime"  # the column that carries each row's file mtime (the cursor)


@dataclass(frozen=True)
class DropLimits:
    """Per-source limits, checked before a byte is decompressed (docs/adding-a-file-source.md)."""

    max_file_bytes: int = 512 * 1024**2
    max_members: int = 1_000
    max_uncompressed_bytes: int = 2 * 1024**3
    max_ratio: float = 200.0


@dataclass
class FileOutcome:
    """One ledger entry: what happened to one file of the drop in this run."""

    path: str
    name: str
    size: int
    mtime: str
    sha256: str | None = None
    status: str = "new"  # new | skipped | rejected | waiting
    rows: int = 0
    previous_load_id: str | None = None
    reason_en: str | None = None
    reason_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FileRejected(FileFormatError):
    """A file refused as a whole; ``reason_id`` is the Indonesian half of the message."""

    def __init__(self, reason_en: str, reason_id: str):
        super().__init__(f"{reason_en} / {reason_id}")
        self.reason_en = reason_en
        self.reason_id = reason_id


def _bilingual(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, FileRejected):
        return exc.reason_en, exc.reason_id
    text = str(exc)
    if " / " in text:
        en, _, idn = text.partition(" / ")
        return en, idn
    return text, f"berkas tidak dapat dibaca: {text}"


def ignored(name: str) -> bool:
    """Lock files, partial downloads and hidden files are never taken."""
    return any(fnmatch(name, p) for p in IGNORED) or name.lower().endswith(MARKERS)


def _iso(mtime: Any) -> str:
    if hasattr(mtime, "isoformat"):
        return str(mtime.isoformat())
    return datetime.fromtimestamp(float(mtime or 0), UTC).isoformat()


def _epoch(mtime: Any) -> float:
    if hasattr(mtime, "timestamp"):
        return float(mtime.timestamp())
    return float(mtime or 0)


@dataclass
class FileDrop:
    """The files of one drop folder to read in this run (see the module docstring)."""

    url: str
    patterns: tuple[str, ...]
    settle_seconds: float = 0.0
    limits: DropLimits = field(default_factory=DropLimits)
    known: Mapping[str, str] = field(default_factory=dict)  # sha256 -> load_id that loaded it

    def __post_init__(self) -> None:
        # credentials and host keys from the environment / Airflow connections, never the URL
        from simpul.storage import filesystem

        self.fs, self.root = filesystem(self.url)
        self.local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    def _candidates(self) -> list[tuple[str, dict[str, Any]]]:
        root = self.root.rstrip("/")
        seen: dict[str, dict[str, Any]] = {}
        for path in self.fs.ls(root, detail=True) if self.fs.exists(root) else []:
            name = PurePosixPath(path["name"]).name
            if not any(fnmatch(name, p) for p in self.patterns) or ignored(name):
                continue
            seen[path["name"]] = path
        # oldest first, as the files were delivered (then by name)
        return sorted(
            seen.items(), key=lambda kv: (_epoch(kv[1].get("mtime") or kv[1].get("created")), kv[0])
        )

    def _refusal(self, path: str, info: dict[str, Any]) -> tuple[str, str] | None:
        """Why ``path`` may not be read at all (symlink, outside the root, too big), or None."""
        name = PurePosixPath(path).name
        if self.local:
            st = os.lstat(path)
            import stat

            if stat.S_ISLNK(st.st_mode) or info.get("islink"):
                return (
                    f"{name}: a symbolic link; links are never followed, copy the file itself",
                    f"{name}: tautan simbolik; tautan tidak pernah diikuti, salin berkasnya",
                )
            real = os.path.realpath(path)
            root = os.path.realpath(self.root)
            if os.path.commonpath([real, root]) != root:
                return (
                    f"{name}: resolves outside the drop folder",
                    f"{name}: mengarah ke luar folder kiriman",
                )
            if not stat.S_ISREG(st.st_mode):
                return (f"{name}: not a regular file", f"{name}: bukan berkas biasa")
        elif info.get("type") == "link" or info.get("islink"):  # SFTP lists links unfollowed
            return (
                f"{name}: a symbolic link; links are never followed, copy the file itself",
                f"{name}: tautan simbolik; tautan tidak pernah diikuti, salin berkasnya",
            )
        elif info.get("type") not in (None, "file"):
            return (f"{name}: not a regular file", f"{name}: bukan berkas biasa")
        size = int(info.get("size") or 0)
        if size > self.limits.max_file_bytes:
            return (
                f"{name}: {size} bytes, above this source's limit of "
                f"{self.limits.max_file_bytes} (max_file_bytes)",
                f"{name}: {size} bita, melebihi batas sumber ini {self.limits.max_file_bytes} "
                f"(max_file_bytes)",
            )
        return None

    def _stat(self, path: str) -> tuple[int, float]:
        info = os.lstat(path) if self.local else None
        if info is not None:
            return info.st_size, info.st_mtime
        i = self.fs.info(path)
        return int(i.get("size") or 0), _epoch(
            i.get("mtime") or i.get("LastModified") or i.get("created")
        )

    def _has_marker(self, path: str) -> bool:
        return any(self.fs.exists(path + m) for m in MARKERS)

    def files(
        self, outcomes: list[dict[str, Any]]
    ) -> Iterator[tuple[FileOutcome, str, tuple[int, float]]]:
        """Yield ``(outcome, path, (size, mtime))`` for each new, complete, permitted file.

        Outcomes of files that are skipped, rejected or not yet complete are appended to
        ``outcomes`` here; the caller appends the outcome of each yielded file once it has
        been read (or rejected while reading).
        """
        pending = self._permitted(outcomes)
        self._settle(pending)
        for path, first in pending:
            outcome = self._unchanged_and_new(path, first, outcomes)
            if outcome is not None:
                yield outcome, path, first

    def _permitted(self, outcomes: list[dict[str, Any]]) -> list[tuple[str, tuple[int, float]]]:
        """The candidates that may be read, with their first ``(size, mtime)``; a refused one
        is recorded as rejected."""
        pending: list[tuple[str, tuple[int, float]]] = []
        for path, info in self._candidates():
            refusal = self._refusal(path, info)
            if refusal is None:
                pending.append((path, self._stat(path)))
                continue
            outcome = FileOutcome(
                path=self.fs.unstrip_protocol(path),
                name=PurePosixPath(path).name,
                size=int(info.get("size") or 0),
                mtime=_iso(info.get("mtime")),
                status="rejected",
            )
            outcome.reason_en, outcome.reason_id = refusal
            outcomes.append(outcome.as_dict())
        return pending

    def _settle(self, pending: list[tuple[str, tuple[int, float]]]) -> None:
        """Files younger than the settle interval (and without a marker) are looked at again
        after it: wait once, as long as the youngest needs."""
        young = [
            first[1]
            for path, first in pending
            if time.time() - first[1] < self.settle_seconds and not self._has_marker(path)
        ]
        if young:
            wait = max(self.settle_seconds - (time.time() - mtime) for mtime in young)
            time.sleep(min(self.settle_seconds, max(0.0, wait)))

    def _unchanged_and_new(
        self, path: str, first: tuple[int, float], outcomes: list[dict[str, Any]]
    ) -> FileOutcome | None:
        """The outcome of a file to take, with its digest; None (recorded as waiting or
        skipped, or gone meanwhile) when it changed since the first look or is known."""
        name = PurePosixPath(path).name
        outcome = FileOutcome(
            path=self.fs.unstrip_protocol(path), name=name, size=first[0], mtime=_iso(first[1])
        )
        try:
            now = self._stat(path)
        except FileNotFoundError:
            return None  # removed meanwhile: nothing to record
        if now != first:
            outcome.status = "waiting"
            outcome.reason_en = f"{name}: still being written (size or time changed); next run"
            outcome.reason_id = f"{name}: masih ditulis (ukuran atau waktu berubah); run berikut"
            outcomes.append(outcome.as_dict())
            return None
        h = hashlib.sha256()
        with self.fs.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        outcome.sha256 = h.hexdigest()
        if outcome.sha256 not in self.known:
            return outcome
        outcome.status = "skipped"
        outcome.previous_load_id = self.known[outcome.sha256]
        outcome.reason_en = f"{name}: already loaded as {outcome.previous_load_id}"
        outcome.reason_id = f"{name}: sudah dimuat sebagai {outcome.previous_load_id}"
        outcomes.append(outcome.as_dict())
        return None

    def read_each(
        self,
        outcomes: list[dict[str, Any]],
        reader: Callable[[FileOutcome, BinaryIO], Iterator[pa.RecordBatch]],
    ) -> Iterator[pa.RecordBatch]:
        """Run ``reader`` over every file to take; a file's batches are yielded only once the
        whole file was read, and a file that fails is recorded as rejected instead."""
        for outcome, path, first in self.files(outcomes):
            with tempfile.TemporaryDirectory(prefix="simpul-file-") as tmp:
                spill = Path(tmp) / "rows.parquet"
                writer: pq.ParquetWriter | None = None
                try:
                    with self.fs.open(path, "rb") as fh:
                        for batch in reader(outcome, fh):
                            if writer is None:
                                writer = pq.ParquetWriter(spill, batch.schema)
                            writer.write_batch(batch)
                            outcome.rows += batch.num_rows
                except (FileFormatError, zipfile.BadZipFile, MemoryError, EOFError) as exc:
                    if writer is not None:
                        writer.close()
                    outcome.status = "rejected"
                    outcome.rows = 0
                    outcome.reason_en, outcome.reason_id = _bilingual(exc)
                    outcomes.append(outcome.as_dict())
                    continue
                if writer is not None:
                    writer.close()
                if self._stat(path) != first:
                    outcome.status = "waiting"
                    outcome.rows = 0
                    outcome.reason_en = f"{outcome.name}: changed while being read; next run"
                    outcome.reason_id = f"{outcome.name}: berubah saat dibaca; run berikut"
                    outcomes.append(outcome.as_dict())
                    continue
                outcomes.append(outcome.as_dict())
                if writer is None:
                    continue
                yield from pq.ParquetFile(spill).iter_batches(batch_size=10_000)


class DropConnector(Connector):
    """A connector over one drop folder. The base owns what every drop shares (the file ledger,
    settle interval, limits, one bad file never blocking the others); a subclass says only how
    one taken file becomes batches (:meth:`read_file`)."""

    default_patterns: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        drop_url: str,
        *,
        kecamatan: str | None = None,
        patterns: tuple[str, ...] | None = None,
        settle_seconds: float = 0.0,
        limits: DropLimits | None = None,
    ):
        self.drop_url = drop_url
        self.kecamatan = kecamatan
        self.patterns = patterns or self.default_patterns
        self.settle_seconds = settle_seconds
        self.limits = limits or DropLimits()
        self.known: dict[str, str] = {}  # file ledger: sha256 -> load id that loaded it

    def read(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        self.stream(stream)
        drop = FileDrop(
            self.drop_url,
            self.patterns,
            settle_seconds=self.settle_seconds,
            limits=self.limits,
            known=self.known,
        )

        def reader(f: FileOutcome, fh: BinaryIO) -> Iterator[pa.RecordBatch]:
            yield from self.read_file(f, fh)
            result.observe([f.mtime])

        yield from drop.read_each(result.files, reader)

    def read_file(self, f: FileOutcome, fh: BinaryIO) -> Iterator[pa.RecordBatch]:
        """The batches of one taken file (a ZIP's members included)."""
        raise NotImplementedError


def header_names(batch: pa.RecordBatch) -> list[str]:
    """The columns the file's header named (the reader's lineage columns left out)."""
    return [n for n in batch.schema.names if n not in LINEAGE_COLUMNS]


def to_columns(
    batch: pa.RecordBatch,
    columns: list[str],
    delivered: Mapping[str, str],
    constants: Mapping[str, str],
) -> pa.RecordBatch:
    """``batch`` with exactly ``columns``, so every file of a delivery has one schema: a
    constant where ``constants`` has one (the file's mtime, say), the lineage columns as read,
    the delivered column ``delivered`` maps it to, else nulls."""
    n = batch.num_rows
    arrays = []
    for col in columns:
        if col in constants:
            arrays.append(pa.array([constants[col]] * n, pa.string()))
        elif col in LINEAGE_COLUMNS:
            arrays.append(batch.column(col))
        elif col in delivered:
            arrays.append(batch.column(delivered[col]))
        else:
            arrays.append(pa.nulls(n, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=columns)
