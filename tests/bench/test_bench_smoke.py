"""The benchmark's machinery at a tiny scale, so it cannot rot. No timings are asserted:
benchmarks are not tests (``uv run python -m bench`` measures; see bench/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from bench import data
from bench.__main__ import Bench, summary, table


def test_bench_stages_run_at_tiny_scale(tmp_path: Path) -> None:
    world, src, home = tmp_path / "world", tmp_path / "src", tmp_path / "home"
    counts = data.make_world(world, 2_000, seed=3)
    assert counts["penduduk"] == 2_000
    rows = data.make_sources(world, src, seed=3)
    assert rows["siak_penduduk"] >= 2_000  # defects add duplicated rows
    assert data.make_increment(src, src / "inc.parquet", 0.01, seed=3) >= 1

    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    b = Bench(tmp_path, "tiny", {"SIMPUL_HOME": str(home), "SIMPUL_WAREHOUSE_URL": url})
    source, stream, cursor = data.SOURCES["siak_penduduk"]
    landed = b.stage(
        "land_file", "siak_penduduk", "-",
        {"file": str(src / "siak_penduduk.parquet"), "source": source, "stream": stream,
         "cursor": cursor},
    )  # fmt: skip
    assert landed["rows"] == rows["siak_penduduk"]
    landed_file = home / "landing" / source / stream / landed["load_id"] / "data.parquet"
    assert pq.read_metadata(landed_file).num_rows == landed["rows"]
    base = b.stage(
        "floor", "siak_penduduk", "duckdb",
        {"file": str(landed_file), "db": str(tmp_path / "floor.duckdb"),
         "load_id": landed["load_id"]},
    )  # fmt: skip
    assert 0 < base["valid"] <= base["rows"]
    assert base["peak_rss_mb"] > 0
    assert "siak_penduduk" in table(b.results)
    assert "| tiny | duckdb |" in summary(b.results)
