"""Generic SQL source: any SQLAlchemy-reachable table, pulled incrementally by a watermark."""

from connectors.sql.connector import SqlConnector, SqlStream

__all__ = ["SqlConnector", "SqlStream"]
