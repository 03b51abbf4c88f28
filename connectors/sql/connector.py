"""A table in an agency database (PostgreSQL, MySQL/MariaDB, SQL Server, ...) read by a
watermark column: ``WHERE watermark >= :since ORDER BY watermark, key``.

Identifiers come from configuration and are quoted by SQLAlchemy; values are bound parameters,
never formatted into SQL. Rows are streamed with a server-side cursor in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from connectors.base.contract import Connector, ReadResult, StreamSpec, rows_to_batch

BATCH_ROWS = 10_000


@dataclass(frozen=True)
class SqlStream:
    name: str
    table: str
    primary_key: tuple[str, ...]
    watermark: str
    schema: str | None = None


class SqlConnector(Connector):
    id = "sql"
    streams: dict[str, StreamSpec]  # per instance: configured tables

    def __init__(self, url: str, streams: list[SqlStream], *, batch_rows: int = BATCH_ROWS):
        self.engine = sa.create_engine(url)
        self.tables = {s.name: s for s in streams}
        self.streams = {s.name: StreamSpec(s.name, s.primary_key, s.watermark) for s in streams}
        self.batch_rows = batch_rows

    def read(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        spec = self.tables.get(stream)
        if spec is None:
            self.stream(stream)  # raises with the known stream names
            return
        table = sa.Table(spec.table, sa.MetaData(), schema=spec.schema, autoload_with=self.engine)
        watermark = table.c[spec.watermark]
        query = sa.select(table).order_by(watermark, *(table.c[k] for k in spec.primary_key))
        if since is not None:
            query = (
                query.where(sa.cast(watermark, sa.String) >= since)
                if isinstance(watermark.type, sa.String)
                else query.where(watermark >= _typed(since, watermark))
            )
        columns = [c.name for c in table.columns]
        with self.engine.connect() as conn:
            rows = conn.execution_options(
                stream_results=True, max_row_buffer=self.batch_rows
            ).execute(query)
            while chunk := rows.fetchmany(self.batch_rows):
                records = [_stringify(dict(r._mapping)) for r in chunk]
                result.observe([r[spec.watermark] for r in records])
                yield rows_to_batch(records, columns)

    def close(self) -> None:
        self.engine.dispose()


def _typed(value: str, column: sa.Column) -> Any:
    """The cursor is stored as text; compare it as the watermark column's own type."""
    from datetime import date, datetime

    py = column.type.python_type
    if py is datetime:
        return datetime.fromisoformat(value)
    if py is date:
        return date.fromisoformat(value)
    return py(value)


def _stringify(row: dict[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for k, v in row.items():
        if v is None:
            out[k] = None
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        else:
            out[k] = str(v)
    return out
