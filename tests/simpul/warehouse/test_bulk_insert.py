"""A big bulk insert into DuckDB keeps whole row groups (one thread), the insertion order and
the connection's thread setting. (A parallel insert of a 650,000-resident delivery left partly
filled row groups that the next small load paid seconds to merge at its checkpoint; see
bench/RESULTS.md, issue 18. The small table here does not reproduce that split.)"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa

from simpul.warehouse.engine import DUCKDB_ROW_GROUP, Warehouse, _create_engine


def test_big_insert_fills_row_groups(tmp_path: Path) -> None:
    wh = Warehouse(_create_engine(f"duckdb:///{tmp_path / 'w.duckdb'}"))
    try:
        n = 3 * DUCKDB_ROW_GROUP + 5_000
        whole = pa.table(
            {
                "id": pa.array(range(n), pa.int64()),
                "name": pa.array([f"warga {i % 977}" for i in range(n)]),
            }
        )
        table = pa.Table.from_batches(whole.to_batches(max_chunksize=100_000))  # as read
        with wh.begin() as conn:
            conn.exec_driver_sql("SET threads = 4")
            conn.exec_driver_sql("CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR)")
        with wh.begin() as conn:
            wh.bulk_insert(conn, "t", table)
            assert conn.exec_driver_sql("SELECT current_setting('threads')").scalar() == 4
        with wh.begin() as conn:
            groups = conn.exec_driver_sql(
                "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')"
            ).scalar()
            ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM t LIMIT 3")]
        assert groups == math.ceil(n / DUCKDB_ROW_GROUP)
        assert ids == [0, 1, 2]  # insertion order kept
    finally:
        wh.dispose()
