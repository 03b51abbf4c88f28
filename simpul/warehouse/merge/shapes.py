"""The shapes of the merge's tables: which columns make history, and the Arrow schemas of
``core.<entity>``, its versions, its SCD2 history and ``ops.merge_conflicts``.

They change with the warehouse schema (a migration), not with the merge logic.
"""

from __future__ import annotations

import pyarrow as pa

from simpul.model import LINEAGE, Entity

# Columns whose changes open a new history row; others are kept as of the latest version.
TRACKED: dict[str, tuple[str, ...]] = {
    "penduduk": (
        "no_kk",
        "kode_desa",
        "dusun",
        "rw",
        "rt",
        "alamat",
        "status_perkawinan",
        "shdk",
        "status_dasar",
        "pendidikan",
        "pekerjaan",
    ),
}

TS = pa.timestamp("us", tz="UTC")
S = pa.string()
VERSION_EXTRA = pa.schema(
    [
        pa.field("_last_seen_at", TS),
        pa.field("_row_hash", S),
        pa.field("_deleted", pa.bool_()),
        pa.field("_recorded_at", TS),
    ]
)
CONFLICTS = pa.schema(
    [
        pa.field("entity", S),
        pa.field("record_key", S),
        pa.field("column_name", S),
        pa.field("observed_at", TS),
        pa.field("kept_source", S),
        pa.field("kept_hash", S),
        pa.field("rejected_source", S),
        pa.field("rejected_hash", S),
        pa.field("load_id", S),
        pa.field("detected_at", TS),
    ]
)
# temp tables of a merge: the record keys it touched (left for the caller), and the incoming
# versions' identities (compared with the stored ones)
KEYS_TABLE = "_simpul_keys"
INCOMING_TABLE = "_simpul_incoming"


def has_history(ent: Entity) -> bool:
    """Whether the entity is merged through versions/history (penduduk) or by ``upsert``."""
    return ent.name in TRACKED


def versions_schema(ent: Entity) -> pa.Schema:
    return pa.schema(list(ent.schema) + list(LINEAGE) + list(VERSION_EXTRA))


def core_schema(ent: Entity) -> pa.Schema:
    return pa.schema(
        list(ent.schema) + list(LINEAGE) + [pa.field("_merged_at", TS), pa.field("_deleted_at", TS)]
    )


def history_schema(ent: Entity) -> pa.Schema:
    types = {f.name: f.type for f in ent.schema}
    return pa.schema(
        [pa.field(k, types[k]) for k in ent.key]
        + [pa.field("valid_from", TS), pa.field("valid_to", TS), pa.field("is_current", pa.bool_())]
        + [pa.field(c, types[c]) for c in TRACKED[ent.name]]
        + [pa.field("_source", S), pa.field("_load_id", S), pa.field("_recorded_at", TS)]
    )


def upsert_schema(ent: Entity) -> pa.Schema:
    return pa.schema(list(ent.schema) + list(LINEAGE) + [pa.field("_merged_at", TS)])
