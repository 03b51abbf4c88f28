"""The connector contract.

A connector declares its streams (primary key, cursor field) and yields Arrow record batches of
rows exactly as the source sent them (all values as strings: typing is the mapping's job, so raw
keeps what was delivered). It imports no Airflow: the same class runs under Airflow, from the
CLI, or in a test.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa


@dataclass(frozen=True)
class StreamSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    # the source also reports deleted records (``Connector.read_deleted``): columns are the
    # primary key plus ``deleted_field``, the time of the deletion (also the deletion cursor)
    deleted_field: str | None = None


@dataclass
class ReadResult:
    """Filled in while a stream is read: the cursor range seen and, for file drops, what
    happened to each file (the ledger entries, see :mod:`connectors.base.drop`)."""

    cursor_min: str | None = None
    cursor_max: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, values: list[Any]) -> None:
        vals = [str(v) for v in values if v not in (None, "")]
        if not vals:
            return
        lo, hi = min(vals), max(vals)
        self.cursor_min = lo if self.cursor_min is None else min(self.cursor_min, lo)
        self.cursor_max = hi if self.cursor_max is None else max(self.cursor_max, hi)


class Connector(ABC):
    """Base of every adapter. Subclasses set ``id`` and ``streams`` and implement ``read``."""

    id: ClassVar[str]
    # the streams it offers: set on the class, or per instance where configured (sql)
    streams: dict[str, StreamSpec]
    # read_pages is implemented: pages can be landed as they arrive and a pull resumed
    resumable: ClassVar[bool] = False

    def stream(self, name: str) -> StreamSpec:
        try:
            return self.streams[name]
        except KeyError:
            raise ValueError(
                f"connector {self.id!r} has no stream {name!r}; streams: {sorted(self.streams)}"
            ) from None

    @abstractmethod
    def read(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Yield batches of rows changed at or after ``since`` (None = full refresh)."""

    def read_pages(
        self,
        stream: str,
        *,
        since: str | None,
        result: ReadResult,
        resume: dict[str, Any] | None = None,
    ) -> Iterator[tuple[pa.RecordBatch | None, dict[str, Any]]]:
        """Like :meth:`read`, page by page: ``(batch or None, state)`` where ``state`` (plain
        JSON) lets a later call with ``resume=state`` continue after that page. Only for
        connectors with ``resumable = True``."""
        raise NotImplementedError(f"connector {self.id!r} cannot resume a pull")

    def bytes_transferred(self) -> int | None:
        """Body bytes received over the network so far (None: not an HTTP source)."""
        http = getattr(self, "http", None)
        return getattr(http, "bytes_received", None)

    def read_deleted(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Yield the keys the source deleted at or after ``since``, with the deletion time.

        Only for streams whose spec sets ``deleted_field``; sources without a deletion feed
        never delete (their records can only change status).
        """
        raise NotImplementedError(f"connector {self.id!r} reports no deletions for {stream!r}")


class PagedConnector(Connector):
    """A source read page by page that can resume a pull: subclasses write
    :meth:`read_pages` once, and :meth:`read` is every page of it."""

    resumable: ClassVar[bool] = True

    def read(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        for batch, _ in self.read_pages(stream, since=since, result=result):
            if batch is not None:
                yield batch


def rows_to_batch(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pa.RecordBatch:
    """JSON rows -> an all-string batch; keys missing in a row become null."""
    if columns is None:
        columns = []
        seen: set[str] = set()
        for r in rows:
            for k in r:
                if k not in seen:
                    seen.add(k)
                    columns.append(k)
    arrays = [pa.array([_text(r.get(c)) for r in rows], type=pa.string()) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, names=columns)


def _text(value: Any) -> str | None:
    """A delivered value as text; NUL (which PostgreSQL text cannot hold) becomes U+FFFD."""
    if value is None:
        return None
    text = str(value)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
