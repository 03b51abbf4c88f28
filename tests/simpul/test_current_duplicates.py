"""``ledger.current_duplicates`` column by column gives what the per-row comparison gives,
on both engines: identical rows, changed rows, new keys, emptied fields, a deleted record."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from simpul import ledger
from simpul.mapping import Mapper, load_mapping
from simpul.model import LINEAGE, entity
from simpul.pipeline.mapped import types_mapper
from simpul.warehouse import merge, open_warehouse
from tests.siak_rows import person


def _mapped(rows: list[dict]) -> pd.DataFrame:
    table, _ = Mapper(load_mapping("siak_penduduk")).apply(
        pd.DataFrame(rows).astype("string"), pd.Series(range(1, len(rows) + 1))
    )
    return table.to_pandas(types_mapper=types_mapper)


def test_columnwise_equals_per_row(warehouse_url: str) -> None:
    wh = open_warehouse(warehouse_url)
    try:
        stored = _mapped([person(i) for i in range(1, 41)])
        table = pa.Table.from_pandas(stored, preserve_index=False)
        n = table.num_rows
        now = datetime(2026, 10, 2, tzinfo=UTC)
        lineage = {
            "_load_id": pa.array(["siak.penduduk.1"] * n),
            "_source": pa.array(["siak"] * n),
            "_extracted_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        }
        for f in LINEAGE:
            table = table.append_column(f.name, lineage[f.name].cast(f.type))
        ent = entity("penduduk")
        with wh.begin() as conn:
            merge.apply_versions(
                conn, wh, ent, merge.version_table(ent, table), load_id="siak.penduduk.1", now=now
            )
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {merge.KEYS_TABLE}")
        merge.soft_delete(
            wh, "penduduk", [stored["nik"].iloc[5]], "siak", "siak.penduduk_deleted.1"
        )

        rows = [person(i) for i in range(1, 41)] + [person(i) for i in range(41, 46)]
        rows[1]["ALAMAT"] = "JALAN BARU 1"  # changed
        rows[2]["GOL_DARAH"] = None  # a field emptied
        rows[3]["TGL_LHR"] = "02-02-1962"  # another date
        frame = _mapped(rows)
        candidates = pd.Series(True, index=frame.index)
        candidates.iloc[7] = False
        fast = ledger.current_duplicates(wh, "penduduk", frame, candidates, "siak")
        t, order, gone = "core.penduduk_versions", "updated_at DESC, _recorded_at DESC", "_deleted"
        slow = ledger._current_duplicates_per_row(
            wh, t, order, gone, ent, frame, candidates, "siak"
        )
        assert fast.tolist() == slow.tolist()
        assert fast.sum() == 40 - 5  # 3 changed, 1 deleted, 1 not a candidate
        assert not fast.iloc[[1, 2, 3, 5, 7]].any() and not fast.iloc[40:].any()
        assert not ledger.current_duplicates(wh, "penduduk", frame, candidates, "opensid").any()
    finally:
        wh.dispose()
