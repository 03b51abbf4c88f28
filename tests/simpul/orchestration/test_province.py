"""The province as per-kabupaten partitions: the task function processes one partition (two
tiny ones here) into the shared warehouse, then the marts once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors.base.contract import rows_to_batch
from simpul.config import paths
from simpul.landing import RunInProgressError, stream_lock
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


ROOT = Path(__file__).resolve().parents[3]
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from simpul.landing import stream_lock
    with stream_lock(Path(sys.argv[1]), "siak", "penduduk", partition=sys.argv[3] or None):
        Path(sys.argv[2]).write_text("held")
        time.sleep(60)
    """
)


@contextmanager
def held_by_another_worker(root: Path, partition: str | None) -> Iterator[int]:
    """Another process (a Celery worker sharing this home) holds the run lock of the stream
    (``partition`` None) or of one partition; yields its pid."""
    marker = root.parent / f"held-{partition}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(marker), partition or ""], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline and holder.poll() is None, "holder did not start"
            time.sleep(0.05)
        yield holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_partition_locks_exclude_the_same_partition_only(tmp_path):
    root = tmp_path / "landing"
    with held_by_another_worker(root, "16.08") as pid:
        with stream_lock(root, "siak", "penduduk", partition="16.09"):  # another kabupaten
            pass
        with pytest.raises(RunInProgressError, match=rf"penduduk/16.08.*\"pid\": {pid}"):
            with stream_lock(root, "siak", "penduduk", partition="16.08"):
                pass
        with pytest.raises(RunInProgressError, match="sedang berjalan"):  # the whole stream
            with stream_lock(root, "siak", "penduduk"):
                pass
    with held_by_another_worker(root, None):  # a whole-stream run excludes every partition
        with pytest.raises(RunInProgressError):
            with stream_lock(root, "siak", "penduduk", partition="16.09"):
                pass
    with stream_lock(root, "siak", "penduduk", partition="16.08"):  # re-entrant in a process
        with stream_lock(root, "siak", "penduduk", partition="16.08"):
            pass
    with pytest.raises(Exception, match="partition name"):
        with stream_lock(root, "siak", "penduduk", partition="../16.08"):
            pass


def test_partitions_of_workers_sharing_a_home_run_side_by_side(province_dir, simpul_home):
    """Another worker runs kabupaten 16.08 (holds its lock): 16.09 still lands, transforms and
    loads here; a second run of 16.08 fails at once with the bilingual message."""
    first, second = province.partitions()
    with held_by_another_worker(paths().landing, first["kabupaten"]):
        assert province.run_partition(second)["status"] == "loaded"
        with pytest.raises(RunInProgressError, match="another run is in progress"):
            province.run_partition(first)
    assert province.run_partition(first)["status"] == "loaded"
