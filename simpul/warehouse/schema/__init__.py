"""Alembic revisions of the warehouse schema (``versions/``, frozen DDL; see
:mod:`simpul.warehouse.migrations`)."""
