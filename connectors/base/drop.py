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
import io
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
from connectors.base.files import FileFormatError

IGNORED = ("~$*", "*.part", "*.tmp", ".*", "*.crdownload", "*.partial")
MARKERS = (".done", ".ok")


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
        return mtime.isoformat()
    return datetime.fromtimestamp(float(mtime or 0), UTC).isoformat()


def _epoch(mtime: Any) -> float:
    if hasattr(mtime, "timestamp"):
        return mtime.timestamp()
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
        pending: list[tuple[str, dict[str, Any], tuple[int, float]]] = []
        for path, info in self._candidates():
            name = PurePosixPath(path).name
            refusal = self._refusal(path, info)
            first = (int(info.get("size") or 0), 0.0)
            if refusal is None:
                first = self._stat(path)
            outcome = FileOutcome(
                path=self.fs.unstrip_protocol(path),
                name=name,
                size=first[0],
                mtime=_iso(first[1]) if first[1] else _iso(info.get("mtime")),
            )
            if refusal:
                outcome.status = "rejected"
                outcome.reason_en, outcome.reason_id = refusal
                outcomes.append(outcome.as_dict())
                continue
            pending.append((path, info, first))
        # stability: files younger than the settle interval are looked at again after it
        young = [
            p
            for p in pending
            if time.time() - p[2][1] < self.settle_seconds and not self._has_marker(p[0])
        ]
        if young:
            wait = max(self.settle_seconds - (time.time() - p[2][1]) for p in young)
            time.sleep(min(self.settle_seconds, max(0.0, wait)))
        for path, _info, first in pending:
            name = PurePosixPath(path).name
            outcome = FileOutcome(
                path=self.fs.unstrip_protocol(path), name=name, size=first[0], mtime=_iso(first[1])
            )
            try:
                now = self._stat(path)
            except FileNotFoundError:
                continue  # removed meanwhile: nothing to record
            if now != first:
                outcome.status = "waiting"
                outcome.reason_en = f"{name}: still being written (size or time changed); next run"
                outcome.reason_id = (
                    f"{name}: masih ditulis (ukuran atau waktu berubah); run berikut"
                )
                outcomes.append(outcome.as_dict())
                continue
            h = hashlib.sha256()
            with self.fs.open(path, "rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(chunk)
            outcome.sha256 = h.hexdigest()
            if outcome.sha256 in self.known:
                outcome.status = "skipped"
                outcome.previous_load_id = self.known[outcome.sha256]
                outcome.reason_en = f"{name}: already loaded as {outcome.previous_load_id}"
                outcome.reason_id = f"{name}: sudah dimuat sebagai {outcome.previous_load_id}"
                outcomes.append(outcome.as_dict())
                continue
            yield outcome, path, first

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


def zip_members(
    name: str, data: BinaryIO | bytes, suffixes: tuple[str, ...], limits: DropLimits
) -> Iterator[tuple[str, bytes]]:
    """The members of a ZIP ending in ``suffixes``, after checking paths and limits from the
    ZIP directory (nothing is decompressed before every check passed)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except zipfile.BadZipFile:
        raise FileRejected(
            f"{name}: not a valid ZIP file", f"{name}: bukan berkas ZIP yang sah"
        ) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise FileRejected(
                f"{name}: {len(infos)} members, above the limit {limits.max_members} (max_members)",
                f"{name}: {len(infos)} anggota, melebihi batas {limits.max_members} (max_members)",
            )
        total = 0
        for i in infos:
            p = i.filename.replace("\\", "/")
            if p.startswith("/") or ".." in PurePosixPath(p).parts or (len(p) > 1 and p[1] == ":"):
                raise FileRejected(
                    f"{name}: member {_safe(p)!r} has an absolute or '..' path; refused",
                    f"{name}: anggota {_safe(p)!r} berjalur absolut atau '..'; ditolak",
                )
            total += i.file_size
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > 1024**2 and ratio > limits.max_ratio:
                raise FileRejected(
                    f"{name}: member {_safe(p)!r} expands {ratio:.0f}x, above the limit "
                    f"{limits.max_ratio:.0f}x (max_ratio; a ZIP bomb?)",
                    f"{name}: anggota {_safe(p)!r} mengembang {ratio:.0f}x, melebihi batas "
                    f"{limits.max_ratio:.0f}x (max_ratio; bom ZIP?)",
                )
        if total > limits.max_uncompressed_bytes:
            raise FileRejected(
                f"{name}: {total} bytes uncompressed, above the limit "
                f"{limits.max_uncompressed_bytes} (max_uncompressed_bytes)",
                f"{name}: {total} bita setelah diekstrak, melebihi batas "
                f"{limits.max_uncompressed_bytes} (max_uncompressed_bytes)",
            )
        members = [
            i
            for i in infos
            if i.filename.lower().endswith(suffixes) and not ignored(PurePosixPath(i.filename).name)
        ]
        if not members:
            raise FileRejected(
                f"{name}: ZIP holds no {'/'.join(suffixes)} file",
                f"{name}: ZIP tidak memuat berkas {'/'.join(suffixes)}",
            )
        for i in members:
            with zf.open(i) as fh:  # zipfile never returns more than the declared size
                yield i.filename, fh.read(i.file_size + 1)


def _safe(text: str) -> str:
    """A member name shown in a message: printable, short."""
    return "".join(c if c.isprintable() else "?" for c in text)[:120]


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
