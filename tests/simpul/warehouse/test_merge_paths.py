"""The set-based paths of the versioned merge (records seen for the first time; records
delivered again unchanged; one source's newer version of a record only it has) give exactly
the rows the per-record survivorship gives, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simpul.warehouse import merge, open_warehouse
from simpul.warehouse.merge import keys, soft_delete, versions
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, reset, snapshot, stage

MOVED = dict(NO_KEL="2009", KEL_NAME="KOTA BARU", DUSUN="DUSUN III", NO_RT="004")


def _deliveries() -> list[str | tuple]:
    v2 = dict(updated="2026-10-05T08:00:00Z", **MOVED)
    return [
        stage([person(i) for i in range(1, 7)]),  # first snapshot: all new
        stage([person(i) for i in range(1, 7)]),  # extracted again: all unchanged
        stage(
            [person(1, **v2), person(5, updated="2026-10-05T09:00:00Z", GOL_DARAH="A")]
            + [person(i) for i in (2, 3, 4, 6, 7, 8)]
        ),  # 1 moved (a new history period), 5 changed an untracked column (none)
        stage([person(2, updated="2026-10-03T08:00:00Z", DUSUN="DUSUN IX")], "opensid"),
        ("delete", person(3)["NIK"]),
        stage([person(3, updated="2026-10-07T08:00:00Z"), person(4), person(9)]),
        stage([person(i) for i in range(1, 10)]),  # an older snapshot replayed late
        # the village's next full snapshot repeats its version of a record SIAK also delivers
        stage([person(2, updated="2026-10-03T08:00:00Z", DUSUN="DUSUN IX")], "opensid"),
        stage([person(i) for i in range(1, 10)]),  # and SIAK's, of records with history
    ]


def _run(deliveries: list[str | tuple]) -> list[int]:
    written = []
    for d in deliveries:
        if isinstance(d, tuple):
            wh = open_warehouse()
            at = datetime(2026, 10, 6, tzinfo=UTC)
            written.append(soft_delete(wh, "penduduk", [d[1]], "siak", "siak.deleted.t", at))
            wh.dispose()
        else:
            result = load(d)
            assert result["status"] == "loaded", result
            written.append(result["rows_loaded"])
    return written


def test_arrow_paths_equal_per_record_path(warehouse_url, monkeypatch: pytest.MonkeyPatch):
    deliveries = _deliveries()
    per_record: list[int] = []
    real = versions.apply_dicts

    def spy(conn, wh, ent, incoming, **kw):
        per_record.append(len(incoming))
        return real(conn, wh, ent, incoming, **kw)

    with monkeypatch.context() as m:
        m.setattr(versions, "apply_dicts", spy)
        fast_written = _run(deliveries[:3])
    # new and unchanged records never reach the per-record path, nor does the third delivery's
    # changed record: one source's newer version of a record only it has is set-based
    assert per_record == []
    fast_written += _run(deliveries[3:-2])
    with monkeypatch.context() as m:
        m.setattr(versions, "apply_dicts", spy)
        fast_written += _run(deliveries[-2:])
    # versions already stored, delivered again, are set-based too, whatever the record's other
    # sources, deletions and history
    assert per_record == []
    fast = snapshot()
    reset(warehouse_url)
    with monkeypatch.context() as m:  # a list of dicts takes the per-record path throughout
        as_table = merge.version_table
        m.setattr(merge, "version_table", lambda ent, rows: as_table(ent, rows).to_pylist())
        slow_written = _run(deliveries)
    assert snapshot() == fast
    assert fast_written == slow_written
    assert len(fast["core.penduduk"]) == 9 and fast["ops.merge_conflicts"]
    assert len(fast["core.penduduk_history"]) > 9


def test_row_hashes_by_duckdb_equal_the_python_row_hash():
    """The hashes stored by earlier versions stay valid: DuckDB's sha256 of the Arrow-built
    text is :func:`keys.row_hash` of every row (unicode, separators, nulls, dates)."""
    from datetime import date

    import duckdb  # noqa: F401 - imported: row_hashes takes the DuckDB path at any size
    import pyarrow as pa

    from simpul.model import entity

    ent = entity("penduduk")
    odd = ["", "é漢", "a\x1fb", "x\x1ey", "'0", " spaced  out ", None]
    rows = []
    for i in range(200):
        r = {c.name: f"{c.name}-{i}" for c in ent.columns}
        r["tanggal_lahir"] = date(1950 + i % 70, 1 + i % 12, 1 + i % 28) if i % 9 else None
        r["updated_at"] = None
        r["alamat"] = odd[i % len(odd)]
        rows.append(r)
    table = pa.Table.from_pylist(rows, schema=ent.schema)
    fast = keys.row_hashes(ent, table)
    assert fast is not None
    assert fast.to_pylist() == [keys.row_hash(ent, r, False) for r in table.to_pylist()]


def _ops_rows() -> dict[str, list[dict]]:
    wh = open_warehouse()
    try:
        return {
            "quarantine": wh.query(
                "select load_id, row_number, record_key, rules, status from ops.quarantine "
                "order by load_id, row_number"
            ),
            "raw": wh.query('select _load_id, _row, "NIK" from raw.siak_penduduk order by 1, 2'),
        }
    finally:
        wh.dispose()


def test_key_disjoint_chunks_equal_one_merge(warehouse_url, monkeypatch: pytest.MonkeyPatch):
    """A large delivery is merged in key-disjoint chunks in its one transaction: chunks of two
    rows leave exactly the rows, counts and quarantine resolutions of one merge."""
    from simpul.warehouse.ops import delivery

    deliveries = _deliveries() + [
        stage([person(10, AGAMA="TIDAK JELAS")] + [person(i) for i in range(11, 60)]),
        stage([person(i) for i in range(1, 60)]),  # 10 arrives valid: its quarantine resolves
    ]
    with monkeypatch.context() as m:
        m.setattr(delivery, "MERGE_CHUNK", 2)
        chunked_written = _run(deliveries)
    chunked = {**snapshot(), **_ops_rows()}
    reset(warehouse_url)
    whole_written = _run(deliveries)
    assert {**snapshot(), **_ops_rows()} == chunked
    assert chunked_written == whole_written
    statuses = [q["status"] for q in chunked["quarantine"]]
    assert statuses == ["resolved"] and len(chunked["core.penduduk"]) == 59
