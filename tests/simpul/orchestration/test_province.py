"""The province as per-kabupaten partitions: the task function processes one partition (two
tiny ones here) into the shared warehouse, then the marts once."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors.base.contract import rows_to_batch
from simpul.orchestration import province
from simpul.warehouse import open_warehouse
from tests.siak_rows import person


@pytest.fixture
def province_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import pyarrow as pa

    folder = tmp_path / "provinsi"
    folder.mkdir()
    for name, people in (("16.08.parquet", range(1, 4)), ("16.09.parquet", range(4, 6))):
        batch = rows_to_batch([person(i) for i in people])
        pq.write_table(pa.Table.from_batches([batch]), folder / name)
    monkeypatch.setenv("SIMPUL_PROVINCE_DIR", str(folder))
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "k" * 40)
    return folder


def test_partitions_are_the_exports(province_dir):
    assert [p["kabupaten"] for p in province.partitions()] == ["16.08", "16.09"]
    assert province.partitions(province_dir / "missing") == []


def test_one_partition_per_task_then_the_marts(province_dir, simpul_home):
    results = [province.run_partition(p) for p in province.partitions()]
    assert [(r["kabupaten"], r["rows"], r["status"]) for r in results] == [
        ("16.08", 3, "loaded"),
        ("16.09", 2, "loaded"),
    ]
    assert all(r["peak_rss_mb"] > 0 for r in results)
    out = province.build_marts_after(results)
    assert out["rows"] == 5 and out["marts"]["marts.penduduk"] == 5
    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.penduduk") == 5
    wh.dispose()
