"""The ops side of a load: committing a delivery (:mod:`.delivery`), its raw rows (:mod:`.raw`),
quarantine (:mod:`.quarantine`), a source's deletion feed (:mod:`.deletions`) and the
bookkeeping records: cursors, loads, schema changes (:mod:`.records`)."""

from simpul.warehouse.ops.delivery import ReconcileError, commit_delivery
from simpul.warehouse.ops.quarantine import QUARANTINE_SCHEMA, quarantine_key
from simpul.warehouse.ops.records import (
    get_cursor,
    record_schema_changes,
    upsert,
)

__all__ = [
    "QUARANTINE_SCHEMA",
    "ReconcileError",
    "commit_delivery",
    "get_cursor",
    "quarantine_key",
    "record_schema_changes",
    "upsert",
]
