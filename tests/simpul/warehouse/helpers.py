"""Landing and loading deliveries from any source through the SIAK mapping, and comparing
warehouse tables without their load-time columns."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.base.contract import rows_to_batch
from simpul import pipeline
from simpul.config import paths
from simpul.landing import land
from simpul.warehouse import open_warehouse
from simpul.warehouse.pseudonym import canonical

PIPE = "siak_penduduk"
LOAD_TIME = {"_merged_at", "_recorded_at", "_last_seen_at", "detected_at", "load_id"}


def stage(rows: list[dict], source: str = "siak") -> str:
    """Land and transform one delivery (SIAK layout, any source name); returns its load id."""
    manifest = land(
        iter([rows_to_batch(rows)]),
        root=paths().landing,
        source=source,
        stream="penduduk",
        cursor_to="2026-10-01T08:00:00Z",
    )
    pipeline.transform(PIPE, manifest.load_id)
    return manifest.load_id


def load(load_id: str) -> dict[str, Any]:
    return pipeline.load(PIPE, load_id)


def reset(url: str) -> None:
    """Empty the warehouse (all layers) so the same deliveries can be loaded again."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for schema in ("ref", "raw", "core", "marts", "ops"):
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def rows(wh, table: str, order: str) -> list[dict[str, str | None]]:
    """A table's rows, values in canonical text, without load-time columns."""
    out = []
    for r in wh.query(f"select * from {table} order by {order}"):
        out.append({k: canonical(v) for k, v in r.items() if k not in LOAD_TIME})
    return out


MERGE_STAMPS = {"_merged_at", "_recorded_at", "detected_at"}  # the time of the load, nothing else
MERGE_TABLES = {
    "core.penduduk_versions": "nik, _source, updated_at, _row_hash",
    "core.penduduk": "nik",
    "core.penduduk_history": "nik, valid_from",
    "ops.merge_conflicts": "record_key, column_name, kept_source, rejected_source, observed_at",
}


def snapshot() -> dict[str, list[dict]]:
    """The merge's tables in a stable order, without the load-time stamps (to compare two
    ways of loading the same deliveries)."""
    wh = open_warehouse()
    try:
        return {
            t: [
                {k: canonical(v) for k, v in r.items() if k not in MERGE_STAMPS}
                for r in wh.query(f"select * from {t} order by {order}")
            ]
            for t, order in MERGE_TABLES.items()
        }
    finally:
        wh.dispose()
