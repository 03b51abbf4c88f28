"""A source's deletion feed, landed beside each delivery, and a backfill's upper bound.

Both pulls (one-shot and resumable) land the feed the same way; ``load`` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from simpul import handoffs
from simpul.config import PipelineSettings, paths
from simpul.landing import Manifest, find_manifest, land
from simpul.pipeline.common import PipelineError


def deleted_stream(stream: str) -> str:
    """The stream name a source's deletion feed is landed and cursored under."""
    return f"{stream}_deleted"


def deletions_load_id(load_id: str) -> str:
    """Load id of the deletion feed landed with delivery ``load_id`` (same time and suffix)."""
    parts = load_id.split(".")
    parts[1] = deleted_stream(parts[1])
    return ".".join(parts)


def landed_deletions(load_id: str) -> Manifest | None:
    """The sealed deletion feed landed with ``load_id``, if its source sends one."""
    del_id = deletions_load_id(load_id)
    if not handoffs.fetch_delivery(del_id):
        return None
    return find_manifest(paths().landing, del_id)


def rows_before(
    batches: Iterable[pa.RecordBatch], cursor_field: str | None, until: str
) -> Iterator[pa.RecordBatch]:
    """Keep rows whose cursor is before ``until`` (a backfill's upper bound)."""
    import pyarrow.compute as pc

    if cursor_field is None:
        raise PipelineError("this stream has no cursor: a bounded backfill is not possible")
    for batch in batches:
        yield batch.filter(pc.less(batch.column(cursor_field), until))


def land_pull(
    read: Callable[[Any], Iterable[pa.RecordBatch]],
    cursor_field: str | None,
    *,
    root: Path,
    source: str,
    stream: str,
    load_id: str,
    since: str | None,
    until: str | None,
    **extra: Any,
) -> tuple[Manifest, Any]:
    """Land what ``read(result)`` yields (rows before ``until``, for a bounded backfill) as
    delivery ``load_id``; the manifest and the read's result (cursor range, files)."""
    from connectors.base.contract import ReadResult

    result = ReadResult()
    batches = read(result)
    if until is not None:
        batches = rows_before(batches, cursor_field, until)
    manifest = land(
        batches,
        root=root,
        source=source,
        stream=stream,
        load_id=load_id,
        cursor_from=since,
        # a bounded backfill never moves the cursor: later changes may not be fetched yet
        cursor_to=None if until is not None else (lambda: result.cursor_max),
        **extra,
    )
    return manifest, result


def land_deletions(
    connector: Any,
    p: PipelineSettings,
    spec: Any,
    load_id: str,
    *,
    since: str | None,
    until: str | None,
    root: Path,
) -> Manifest:
    """Land the deletion feed of delivery ``load_id`` and publish it.

    Landed before the delivery: a delivery whose deletion feed is missing never exists, and a
    crash in between leaves only an unreferenced feed (its cursor has not moved).
    """
    deletions, _ = land_pull(
        lambda result: connector.read_deleted(p.stream, since=since, result=result),
        spec.deleted_field,
        root=root,
        source=p.source,
        stream=deleted_stream(p.stream),
        load_id=deletions_load_id(load_id),
        since=since,
        until=until,
    )
    handoffs.publish_delivery(deletions.load_id)
    return deletions
