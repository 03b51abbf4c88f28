"""The shared warehouse: one code path over DuckDB (embedded default) and PostgreSQL."""

from simpul.warehouse.engine import Warehouse, open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
