"""The shared warehouse: one code path over DuckDB (embedded default) and PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager

from simpul.warehouse.engine import Warehouse, open_warehouse


@contextmanager
def warehouse(url: str | None = None) -> Iterator[Warehouse]:
    """``with warehouse() as wh:`` the warehouse opened (migrated) and always disposed, so a
    DuckDB file lock never outlives the block."""
    wh = open_warehouse(url)
    try:
        yield wh
    finally:
        wh.dispose()


__all__ = ["Warehouse", "open_warehouse", "warehouse"]
