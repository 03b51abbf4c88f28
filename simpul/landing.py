"""Immutable raw landing: every delivery becomes Parquet plus a manifest before anything else.

The manifest is written last and atomically, so a delivery without one is incomplete (a crash
mid-write) and is never processed. Files are made read-only once complete. Any load can be
replayed from here without calling the agency again.

A full disk (or any other write error) while landing is a :class:`LandingError` naming the
folder; nothing half-written is left under a name that counts as complete.

:func:`stream_lock` keeps two runs of the same (source, stream) from overlapping: the second
fails at once with :class:`RunInProgressError` (or waits, if asked to).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simpul import atrest
from simpul.digest import sha256_file as _sha256

MANIFEST = "_manifest.json"
DATA = "data.parquet"


class LandingError(Exception):
    pass


class RunInProgressError(LandingError):
    """Another run of the same (source, stream) holds the lock."""


@dataclass(frozen=True)
class Manifest:
    load_id: str
    source: str
    stream: str
    extracted_at: str
    row_count: int
    sha256: str
    schema_hash: str
    columns: list[str]
    cursor_from: str | None
    cursor_to: str | None
    file: str
    # network cost of the delivery: body bytes received over all runs that pulled it, and how
    # many runs that took (a pull resumed after an outage counts each run)
    bytes_transferred: int | None = None
    pull_runs: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.file)


def new_load_id(source: str, stream: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{source}.{stream}.{now:%Y%m%dT%H%M%S}.{uuid.uuid4().hex[:8]}"


def schema_hash(schema: pa.Schema) -> str:
    text = ",".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def land(
    batches: Iterable[pa.RecordBatch],
    *,
    root: Path,
    source: str,
    stream: str,
    load_id: str | None = None,
    cursor_from: str | None = None,
    cursor_to: Callable[[], str | None] | str | None = None,
    extracted_at: datetime | None = None,
    bytes_transferred: Callable[[], int | None] | int | None = None,
    pull_runs: int | None = None,
) -> Manifest:
    """Stream ``batches`` into ``root/<source>/<stream>/<load_id>/`` and seal it with a manifest.

    ``cursor_to`` is called after the last batch (the connector knows the range only then).
    """
    load_id = load_id or new_load_id(source, stream)
    extracted_at = extracted_at or datetime.now(UTC)
    folder = root / source / stream / load_id
    if (folder / MANIFEST).exists():
        raise LandingError(f"{folder}: already landed; landed deliveries are immutable")
    folder.mkdir(parents=True, exist_ok=True)
    data, schema, rows = _write_data(batches, folder, f"{source}/{stream}")
    manifest = Manifest(
        load_id=load_id,
        source=source,
        stream=stream,
        extracted_at=extracted_at.isoformat(),
        row_count=rows,
        sha256=_sha256(data),
        schema_hash=schema_hash(schema),
        columns=list(schema.names),
        cursor_from=cursor_from,
        cursor_to=cursor_to() if callable(cursor_to) else cursor_to,
        file=str(data),
        bytes_transferred=bytes_transferred() if callable(bytes_transferred) else bytes_transferred,
        pull_runs=pull_runs,
    )
    _seal(folder, manifest)
    data.chmod(0o400)  # read-only, and owner-only (it holds NIKs)
    return manifest


def _write_data(
    batches: Iterable[pa.RecordBatch], folder: Path, where: str
) -> tuple[Path, pa.Schema, int]:
    """Stream ``batches`` into ``folder``'s data file (written aside, fsynced, renamed);
    its path, schema and row count. A source failure re-raises the source's own error."""
    tmp = folder / (DATA + ".partial")
    writer: pq.ParquetWriter | None = None
    rows = 0
    schema = pa.schema([])  # an empty delivery is still a delivery: recorded with no columns
    try:
        for batch in _from_source(batches):
            if writer is None:
                schema = batch.schema
                writer = atrest.parquet_writer(tmp, schema, compression="zstd")
            elif batch.schema != schema:
                raise LandingError(
                    f"{where}: columns changed within one delivery "
                    f"({sorted(set(batch.schema.names) ^ set(schema.names))})"
                )
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer is None:
            writer = atrest.parquet_writer(tmp, schema, compression="zstd")
        writer.close()
        writer = None
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        data = folder / DATA
        os.replace(tmp, data)
    except BaseException as exc:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        if isinstance(exc, _SourceFailure):
            # the source failed (connection refused, missing drop folder...): not a landing error
            raise exc.original from None
        if isinstance(exc, OSError):
            why = exc.strerror or exc
            raise LandingError(f"{folder}: cannot write landed data: {why}") from None
        raise
    return data, schema, rows


def _seal(folder: Path, manifest: Manifest) -> None:
    """Write the manifest aside, fsync and rename it into place: the delivery exists."""
    tmp_manifest = folder / (MANIFEST + ".partial")
    try:
        with tmp_manifest.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(manifest), indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_manifest, folder / MANIFEST)
        _fsync_dir(folder)
    except OSError as exc:
        tmp_manifest.unlink(missing_ok=True)
        raise LandingError(f"{folder}: cannot seal the delivery: {exc.strerror or exc}") from None


class _SourceFailure(Exception):
    """Carries an exception raised while *reading* the batches (by the connector)."""

    def __init__(self, original: Exception):
        super().__init__(str(original))
        self.original = original


def _from_source(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches``, with the connector's own errors wrapped so ``land`` never relabels an
    unreachable agency (requests' errors are ``OSError`` too) as a write failure."""
    it = iter(batches)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except Exception as exc:
            raise _SourceFailure(exc) from exc
        yield batch


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a power cut keeps the sealed manifest)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


LOCK_FILE = ".run.lock"
_held: dict[Path, int] = {}
_held_guard = threading.Lock()
_PARTITION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@contextmanager
def stream_lock(
    root: Path, source: str, stream: str, *, wait: float = 0.0, partition: str | None = None
) -> Iterator[Path]:
    """Hold the run lock of ``root/<source>/<stream>`` for the duration of the block.

    Another process (or Airflow worker on the same host or on a shared file system with
    working ``flock``) holding it makes this raise :class:`RunInProgressError` after ``wait``
    seconds (0: at once). The lock dies with its process, so a killed run never blocks the
    next one. Re-entrant within a process: ``run`` may hold it while ``extract`` and ``load``
    take it again.

    ``partition`` (a province kabupaten, ``16.08``): partitions are different deliveries of
    the stream, so each has its own lock (``.run.<partition>.lock``) and partitions run side
    by side, while two runs of the same partition still exclude each other. They share the
    stream's lock, so a whole-stream run and partition runs still exclude each other.
    """
    folder = root / source / stream
    folder.mkdir(parents=True, exist_ok=True)
    where = f"{source}/{stream}"
    if partition is None:
        with _file_lock(folder / LOCK_FILE, where, wait, shared=False) as path:
            yield path
        return
    if not partition or partition.startswith(".") or not set(partition) <= _PARTITION_CHARS:
        raise LandingError(
            f"{partition!r} is not a partition name (letters, digits, . _ -) / "
            f"{partition!r} bukan nama partisi (huruf, angka, . _ -)"
        )
    with (
        _file_lock(folder / LOCK_FILE, where, wait, shared=True),
        _file_lock(folder / f".run.{partition}.lock", f"{where}/{partition}", wait) as path,
    ):
        yield path


@contextmanager
def _file_lock(path: Path, where: str, wait: float, *, shared: bool = False) -> Iterator[Path]:
    """``flock`` on ``path`` (exclusive, or ``shared`` with other shared holders),
    re-entrant within a process; the exclusive holder's note names it."""
    path = path.resolve()
    with _held_guard:
        reentered = bool(_held.get(path))
        if reentered:
            _held[path] += 1
    if reentered:
        try:
            yield path
        finally:
            with _held_guard:
                _held[path] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, where, wait, shared=shared)
        with _held_guard:
            _held[path] = 1
        try:
            yield path
        finally:
            with _held_guard:
                _held.pop(path, None)
            if not shared:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, where: str, wait: float, *, shared: bool = False) -> None:
    """Take the lock on ``fd`` within ``wait`` seconds and (exclusive) write who holds it
    (pid, host, since), or raise :class:`RunInProgressError` naming the holder."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                raise RunInProgressError(
                    f"{where}: another run is in progress ({holder or 'unknown'});"
                    f" try again when it has finished / proses lain untuk {where} "
                    f"sedang berjalan; ulangi setelah selesai"
                ) from None
            time.sleep(0.2)
    if shared:
        return  # several holders: the note is the exclusive holder's
    os.ftruncate(fd, 0)
    holder_note = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.pwrite(fd, json.dumps(holder_note).encode(), 0)


def find_manifest(root: Path, load_id: str) -> Manifest:
    """Locate a sealed delivery by load id (``source.stream.timestamp.suffix``)."""
    parts = load_id.split(".")
    if len(parts) < 4:
        raise LandingError(f"{load_id!r} is not a load id")
    path = root / parts[0] / parts[1] / load_id / MANIFEST
    if not path.exists():
        raise LandingError(f"no sealed delivery {load_id} under {root}")
    manifest = Manifest(**json.loads(path.read_text()))
    if manifest.path.parent != path.parent:
        # landed on another host or under another home (shared storage: simpul.storage)
        manifest = replace(manifest, file=str(path.parent / manifest.path.name))
    if _sha256(manifest.path) != manifest.sha256:
        raise LandingError(f"{manifest.path}: SHA-256 does not match its manifest (tampered?)")
    return manifest
