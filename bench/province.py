"""``uv run python -m bench.province``: peak memory at province scale (issue 18 items 5 and 6).

Each partition is one synthetic kabupaten (an OKU Timur-shaped world of ``--population``
residents whose NIK and KK serials are shifted per partition: :func:`shift_serials`) delivered
as SIAK penduduk, then landed, transformed, loaded and the
marts built, every stage in its own process (``bench.worker``: peak RSS is that process's
high-water mark). ``--partitions N`` runs N of them one after the other into the same warehouse
(``--engine postgres``: a fresh PostgreSQL database, dropped afterwards), as the per-kabupaten
partitions of the province would; ``--sample SECONDS`` also samples the whole machine's used
memory while it runs. The synthetic world only knows OKU Timur's kecamatan codes, so the
partitions stand in for different kabupaten by their serials (same villages, other residents).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import data
from bench.__main__ import PSEUDONYM_KEY, Bench, _bench_config, _pg_create, _pg_drop, machine

PIPELINE = "siak_penduduk"


def prepare(workdir: Path, population: int, seed: int) -> Path:
    """World and source file of one partition (not measured); returns the source Parquet."""
    base = workdir / f"part_{population}_{seed}"
    world, src = base / "world", base / "src"
    for d in (world, src):
        d.mkdir(parents=True, exist_ok=True)
    data.timed(f"world seed {seed}", data.make_world, world, population, seed)
    data.timed(f"sources seed {seed}", data.make_sources, world, src, seed)
    return src / f"{PIPELINE}.parquet"


ID_COLUMNS = ("NIK", "NO_KK", "NIK_AYAH", "NIK_IBU")


def shift_serials(table: pa.Table, offset: int) -> pa.Table:
    """Another kabupaten from the same world: every 16-digit NIK / KK number gets ``offset``
    added to its 4-digit serial (region and birth date digits stay valid), so partitions never
    share a resident; malformed ids (the defects) stay as they are."""
    for name in ID_COLUMNS:
        if name not in table.column_names:
            continue
        col = table[name]
        ok = pc.fill_null(pc.match_substring_regex(col, r"^\d{16}$"), False)
        serial = pc.cast(pc.utf8_slice_codeunits(pc.if_else(ok, col, "0" * 16), 12, 16), pa.int64())
        moved = pc.add(serial, offset % 9_999)
        moved = pc.if_else(pc.greater(moved, 9_999), pc.subtract(moved, 9_999), moved)  # 0001..
        shifted = pc.utf8_lpad(pc.cast(moved, pa.string()), 4, "0")
        new = pc.binary_join_element_wise(pc.utf8_slice_codeunits(col, 0, 12), shifted, "")
        table = table.set_column(table.column_names.index(name), name, pc.if_else(ok, new, col))
    return table


def province_files(source: Path, folder: Path, partitions: int, step: int = 500) -> list[Path]:
    """``partitions`` per-kabupaten exports (``16.01.parquet``, ...) made from one source."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(source)
    out = []
    for k in range(partitions):
        path = folder / f"16.{k + 1:02d}.parquet"
        if not path.exists():
            pq.write_table(shift_serials(table, k * step), path, compression="zstd")
        out.append(path)
    return out


def hub_env(home: Path, url: str | None, duckdb_settings: str = "") -> dict[str, str]:
    """The hub's environment; ``duckdb_settings`` (``memory_limit=1GB&threads=2``) go into the
    DuckDB URL, which is how an operator configures them too."""
    home.mkdir(parents=True, exist_ok=True)
    query = f"?{duckdb_settings}" if duckdb_settings else ""
    return {
        "SIMPUL_HOME": str(home),
        "SIMPUL_CONFIG": str(_bench_config(home)),
        "SIMPUL_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "SIMPUL_WAREHOUSE_URL": url or f"duckdb:///{home / 'warehouse.duckdb'}{query}",
        "GX_ANALYTICS_ENABLED": "false",
    }


def run_partition(b: Bench, source: Path, name: str, *, marts: bool = True) -> dict[str, Any]:
    """Land, transform, load (and build the marts of) one partition; seconds and peak RSS."""
    source_name, stream, cursor = data.SOURCES[PIPELINE]
    stages = [
        b.stage(
            "land_file",
            name,
            "-",
            {"file": str(source), "source": source_name, "stream": stream, "cursor": cursor},
        )
    ]
    load_id = stages[0]["load_id"]
    stages.append(b.stage("transform", name, "-", {"pipeline": PIPELINE, "load_id": load_id}))
    stages.append(b.stage("load", name, "db", {"pipeline": PIPELINE, "load_id": load_id}))
    if marts:
        stages.append(b.stage("marts", name, "db", {}))
    return {
        "partition": name,
        "rows": stages[0]["rows"],
        "seconds": round(sum(s["seconds"] for s in stages), 2),
        "process_s": round(sum(s["process_s"] for s in stages), 2),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages),
        "stages": {s["stage"]: (s["seconds"], s["peak_rss_mb"]) for s in stages},
    }


def run_increment(b: Bench, source: Path, name: str, seed: int) -> dict[str, Any]:
    """A 1 % delivery of changed addresses into the partition, then the marts incrementally
    and, on the same warehouse, rebuilt whole (the same-run baseline)."""
    inc = source.with_name(f"{PIPELINE}_increment.parquet")
    if not inc.exists():
        data.make_increment(source.parent, inc, 0.01, seed)
    part = run_partition(b, inc, f"{name}+1%")
    full = b.stage("marts", f"{name}+1% full", "db", {"full": True})
    part["stages"]["marts full"] = (full["seconds"], full["peak_rss_mb"])
    return part


class MemorySampler:
    """The machine's used memory (MemTotal - MemAvailable) every ``every`` seconds: the
    high-water mark of everything running, other jobs on a shared machine included."""

    def __init__(self, every: float):
        self.every, self.peak_mb, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def used_mb() -> float:
        info = dict(
            (line.split(":")[0], int(line.split()[1]))
            for line in Path("/proc/meminfo").read_text().splitlines()
        )
        return (info["MemTotal"] - info["MemAvailable"]) / 1024

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_mb = max(self.peak_mb, self.used_mb())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.province", description=__doc__)
    ap.add_argument("--population", type=int, default=2_000_000, help="residents per partition")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    ap.add_argument("--no-marts", action="store_true")
    ap.add_argument(
        "--marts-at-end", action="store_true", help="build the marts once, after every partition"
    )
    ap.add_argument("--increment", action="store_true", help="then 1 %% into the first partition")
    ap.add_argument("--duckdb", default="", help="DuckDB settings, e.g. memory_limit=1GB&threads=2")
    ap.add_argument("--sample", type=float, default=0.5, help="machine memory sampling, s")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="simpul-province-"))
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    source = prepare(workdir, args.population, args.seed)
    folder = workdir / f"provinsi_{args.population}"
    sources = province_files(source, folder, args.partitions)
    home = workdir / f"home_{args.engine}_{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    url = _pg_create() if args.engine == "postgres" else None
    b = Bench(workdir, f"pop_{args.population}", hub_env(home, url, args.duckdb))
    parts = []
    try:
        with MemorySampler(args.sample) as mem:
            base = MemorySampler.used_mb()
            for part in sources:
                each = not (args.no_marts or args.marts_at_end)
                parts.append(run_partition(b, part, f"kab{part.stem}", marts=each))
                print(f"== {json.dumps(parts[-1])}", flush=True)
            if args.marts_at_end:
                end = b.stage("marts", "province", "db", {})
                parts.append(
                    {
                        "partition": "marts",
                        "seconds": end["seconds"],
                        "peak_rss_mb": end["peak_rss_mb"],
                    }
                )
                print(f"== {json.dumps(parts[-1])}", flush=True)
            if args.increment:
                # the first partition is the unshifted source
                parts.append(run_increment(b, source, f"kab{sources[0].stem}", args.seed))
                print(f"== {json.dumps(parts[-1])}", flush=True)
    finally:
        if url:
            _pg_drop(url)
    out = {"partitions": parts, "machine_used_mb_before": base, "machine_used_mb_peak": mem.peak_mb}
    print(json.dumps({k: v for k, v in out.items() if k != "partitions"}), flush=True)
    if args.json:
        args.json.write_text(json.dumps({**out, "results": b.results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
