"""``ops.quarantine``: rows that failed validation (or a deletion feed's unreadable rows), kept
with their reasons in English and Bahasa Indonesia, never dropped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.landing import Manifest
from simpul.model import Entity
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.ops.raw import delivered_rows

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field(c, pa.int64() if c == "row_number" else pa.string())
        for c in (
            "load_id",
            "source",
            "stream",
            "entity",
            "row_number",
            "record_key",
            "rules",
            "reasons_en",
            "reasons_id",
            "record_json",
            "status",
        )
    ]
    + [pa.field("quarantined_at", pa.timestamp("us", tz="UTC"))]
)


def quarantine_key(ent: Entity, row: dict[str, Any]) -> str:
    """``ops.quarantine.record_key``: the natural key, parts joined with '|' (as the merge's
    record keys, so a record that arrives valid later resolves its quarantine entry)."""
    return "|".join("" if row.get(k) is None else str(row[k]) for k in ent.key)


def quarantine_rows(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    manifest: Manifest,
    mapped: pa.Table,
    findings: pa.Table,
    now: datetime,
) -> None:
    """Quarantine the delivery's failing rows with the delivered record and the reasons; an
    older open entry of the same record is superseded (one open entry per bad record)."""
    quarantined = mapped.filter(pc.equal(mapped["_status"], "quarantine"))
    if not quarantined.num_rows:
        return
    by_row: dict[int, list[dict[str, Any]]] = {}
    for f in findings.filter(pc.equal(findings["severity"], "error")).to_pylist():
        by_row.setdefault(f["row"], []).append(f)
    qrows = quarantined.select(["_row", *ent.key]).to_pylist()
    raws = delivered_rows(manifest, [q["_row"] for q in qrows])
    rows_out: list[dict[str, Any]] = []
    for q, raw in zip(qrows, raws, strict=True):
        fs = sorted(by_row.get(q["_row"], []), key=lambda f: f["rule"])
        rows_out.append(
            {
                "load_id": manifest.load_id,
                "source": manifest.source,
                "stream": manifest.stream,
                "entity": ent.name,
                "row_number": q["_row"],
                "record_key": quarantine_key(ent, q),
                "rules": ",".join(f["rule"] for f in fs),
                "reasons_en": "; ".join(f"{f['field']}: {f['reason_en']}" for f in fs),
                "reasons_id": "; ".join(f"{f['field']}: {f['reason_id']}" for f in fs),
                "record_json": json.dumps(raw, ensure_ascii=False),
                "status": "open",
                "quarantined_at": now,
            }
        )
    wh.bulk_insert(conn, "ops.quarantine", pa.Table.from_pylist(rows_out, schema=QUARANTINE_SCHEMA))
    # the same bad record delivered again (inclusive cursor, re-sent file): one open entry
    conn.execute(
        sa.text(
            "UPDATE ops.quarantine SET status = 'superseded', resolved_at = :now "
            "WHERE status = 'open' AND entity = :e AND load_id <> :id AND record_key IN "
            "(SELECT record_key FROM ops.quarantine WHERE load_id = :id)"
        ),
        {"now": now, "e": ent.name, "id": manifest.load_id},
    )


def quarantine_unreadable_deletions(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    deletions: Manifest,
    bad: Sequence[tuple[int, dict[str, Any]]],
    key_cols: Sequence[str],
    now: datetime,
) -> None:
    """A deletion feed's rows without a key or a readable deletion time (``bad``: row number
    and delivered row; ``key_cols``: the feed's key columns)."""
    rows = [
        {
            "load_id": deletions.load_id,
            "source": deletions.source,
            "stream": deletions.stream,
            "entity": ent.name,
            "row_number": i,
            "record_key": "|".join(str(r.get(c) or "") for c in key_cols),
            "rules": "deletion_unreadable",
            "reasons_en": "deletion without a key or a readable deletion time",
            "reasons_id": "penghapusan tanpa kunci atau waktu hapus yang terbaca",
            "record_json": json.dumps(r, ensure_ascii=False),
            "status": "open",
            "quarantined_at": now,
        }
        for i, r in bad
    ]
    wh.bulk_insert(conn, "ops.quarantine", pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA))
