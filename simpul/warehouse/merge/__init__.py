"""Merging source versions into core: the current record, its SCD2 history and the conflicts.

Every distinct version a source delivers is kept in ``core.<entity>_versions``. For each record a
delivery touches, the current row, the history and the conflicts are recomputed from that set
(see :mod:`simpul.warehouse.survivorship`) and only rows that differ are rewritten. So the result
depends on which versions arrived, never on the order or how often, and an unchanged record
keeps its load-time stamps (``_merged_at``, ``_recorded_at``). All of it runs inside the
caller's transaction, together with the rest of the delivery.

Entities without history (keluarga, peristiwa, izin, ...) take the simpler :func:`upsert`: one
current row per natural key, the newest ``updated_at`` wins, equal content is left untouched.

The parts, by what changes together: :mod:`.shapes` (table schemas), :mod:`.keys` (record keys
and content hashes), :mod:`.derive` (one record's rows from its versions), :mod:`.sync` (writing
back only what changed), :mod:`.versions` (:func:`apply_versions`), :mod:`.deletions`,
:mod:`.latest` (:func:`upsert`) and :mod:`.residents` (reading the history back).
"""

from simpul.warehouse.merge.deletions import soft_delete, tombstones
from simpul.warehouse.merge.keys import record_key, record_keys, row_hash
from simpul.warehouse.merge.latest import upsert
from simpul.warehouse.merge.residents import RESIDENTS_ON, end_of_day, residents_on
from simpul.warehouse.merge.shapes import (
    CONFLICTS,
    KEYS_TABLE,
    TRACKED,
    core_schema,
    has_history,
    history_schema,
    upsert_schema,
    versions_schema,
)
from simpul.warehouse.merge.versions import apply_versions, version_table

__all__ = [
    "CONFLICTS",
    "KEYS_TABLE",
    "RESIDENTS_ON",
    "TRACKED",
    "apply_versions",
    "core_schema",
    "end_of_day",
    "has_history",
    "history_schema",
    "record_key",
    "record_keys",
    "residents_on",
    "row_hash",
    "soft_delete",
    "tombstones",
    "upsert",
    "upsert_schema",
    "version_table",
    "versions_schema",
]
