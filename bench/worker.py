"""One measured stage in its own process: ``python -m bench.worker STAGE ARGS_JSON OUT_JSON``.

Modules a stage needs are imported before the clock starts (``import_s`` reports that cost:
in Airflow every task process pays it). ``peak_rss_mb`` is the process's RSS high-water mark
(``VmHWM`` in ``/proc/self/status``) at the end of the stage, interpreter and imports
included; ``base_rss_mb`` is the RSS after the imports, before the stage.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """VmHWM: this process's RSS high-water mark. (``getrusage`` ru_maxrss would do too, but on
    Linux it carries over the forking parent's peak across exec, which is not this stage's.)"""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def land_file(a: dict[str, Any]) -> dict[str, Any]:
    """Land a source file as a delivery (simpul.landing.land), in batches, without HTTP."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from simpul.config import paths
    from simpul.landing import land, new_load_id

    source, stream, cursor = a["source"], a["stream"], a["cursor"]
    pf = pq.ParquetFile(a["file"])
    top: list[str] = []

    def batches():
        for b in pf.iter_batches(batch_size=50_000):
            m = pc.max(b.column(cursor)).as_py()
            if m:
                top.append(m)
            yield b

    m = land(
        batches(),
        root=paths().landing,
        source=source,
        stream=stream,
        load_id=new_load_id(source, stream),
        cursor_to=lambda: max(top) if top else None,
    )
    return {"rows": m.row_count, "load_id": m.load_id}


def extract_http(a: dict[str, Any]) -> dict[str, Any]:
    from simpul.pipeline import extract

    out = extract(a["pipeline"], full_refresh=True)
    return {"rows": out["rows"], "load_id": out["load_id"]}


def transform(a: dict[str, Any]) -> dict[str, Any]:
    from simpul.pipeline import transform as run

    out = run(a["pipeline"], a["load_id"])
    return {
        "rows": out["received"],
        "valid": out["valid"],
        "quarantined": out["quarantined"],
        "duplicate": out["duplicate"],
        "warned": out["warned"],
        "held": out["held"],
        "staging": out["staging"],
    }


def load(a: dict[str, Any]) -> dict[str, Any]:
    from simpul.pipeline import load as run

    out = run(a["pipeline"], a["load_id"])
    return {"rows": out["rows_received"], "status": out["status"], "merged": out.get("merged")}


def marts(a: dict[str, Any]) -> dict[str, Any]:
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.marts import build_marts

    wh = open_warehouse()
    try:
        rows = wh.scalar("select count(*) from core.penduduk")
        counts = build_marts(wh, full=bool(a.get("full")))
    finally:
        wh.dispose()
    return {"rows": rows, **counts}


def exchange(a: dict[str, Any]) -> dict[str, Any]:
    """Every agreement delivered once (the demo's local receivers and the CKAN simulator)."""
    import contextlib
    import io

    from simpul.config import paths
    from simpul.exchange.demo import run_exchange_demo
    from simpul.simulators.runner import serve_all
    from simpul.warehouse import open_warehouse

    servers = serve_all(paths().world, base_port=0, only=["ckan"], home_dir=paths().home)
    os.environ.update(servers["ckan"].env())
    wh = open_warehouse()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            out = run_exchange_demo(wh)
    finally:
        wh.dispose()
        for s in servers.values():
            s.stop()
    return {
        "rows": sum(int(r["rows"] or 0) for r in out),
        "deliveries": len(out),
        "_seconds": time.monotonic() - started,  # without the simulator's start
    }


def floor(a: dict[str, Any]) -> dict[str, Any]:
    from bench.floor import run

    return run(a)


def dlt_peer(a: dict[str, Any]) -> dict[str, Any]:
    from bench.dlt_peer import run

    return run(a)


def airflow(a: dict[str, Any]) -> dict[str, Any]:
    from bench.airflow_overhead import run

    return run(a)


STAGES = {
    "land_file": (land_file, ["simpul.landing"]),
    "extract_http": (extract_http, ["simpul.pipeline", "connectors.siak"]),
    # the warehouse's SQLAlchemy dialect too: both stages open the warehouse, as the floor's
    # stage opens DuckDB (imported before its clock)
    "transform": (
        transform,
        ["simpul.pipeline", "simpul.validate", "expectations.rules", "duckdb_engine"],
    ),
    "load": (load, ["simpul.pipeline", "simpul.warehouse.ops", "duckdb_engine"]),
    "marts": (marts, ["simpul.warehouse.marts"]),
    "exchange": (exchange, ["simpul.exchange.demo", "simpul.exchange.service", "uvicorn"]),
    "floor": (floor, ["bench.floor"]),
    "dlt": (dlt_peer, ["bench.dlt_peer", "dlt", "pandera.pandas", "simpul.domain.nik"]),
    "airflow": (airflow, []),
}


def main(argv: list[str]) -> int:
    stage, args, out = argv[0], json.loads(argv[1]), Path(argv[2])
    fn, modules = STAGES[stage]
    t0 = time.monotonic()
    import importlib

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for m in modules:
        importlib.import_module(m)
    import_s = time.monotonic() - t0
    base = _rss_now_mb()
    started = time.monotonic()
    result = fn(args)
    seconds = result.pop("_seconds", None) or time.monotonic() - started
    result.update(
        stage=stage,
        seconds=round(seconds, 3),
        import_s=round(import_s, 2),
        peak_rss_mb=round(_peak_mb(), 1),
        base_rss_mb=round(base, 1),
    )
    out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
