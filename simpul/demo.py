"""``simpul demo``: the whole flow on a laptop with the embedded defaults.

Generates (once) a seeded synthetic Kecamatan Martapura, starts the agency simulators on
localhost, runs every configured pipeline once, and prints a summary and how to query it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from simpul.config import load_config, paths, warehouse_url


def _ensure_world(population: int | None, seed: int) -> None:
    from simpul.synth import WorldConfig, generate_world

    world_dir = paths().world
    marker = world_dir / "world.json"
    if marker.exists() and population is None:
        return
    cfg = load_config()
    started = time.monotonic()
    world = generate_world(WorldConfig(seed=seed, kecamatan=tuple(cfg.kecamatan),
                                       population=population))
    world.write(world_dir)
    print(f"Synthetic Martapura generated: {world.penduduk.num_rows:,} residents "
          f"({time.monotonic() - started:.1f}s, seed {seed}) -> {world_dir}")


def run_demo(population: int | None = None, seed: int = 42) -> int:
    from simpul.cli import _table
    from simpul.pipeline import run
    from simpul.simulators.runner import serve_all

    print(f"Simpul demo — data folder {paths().home}, warehouse {warehouse_url()}\n")
    _ensure_world(population, seed)
    servers = serve_all(paths().world)
    try:
        for name, server in servers.items():
            print(f"  simulator {name:<10} {server.url}")
            env = server.env() if hasattr(server, "env") else {}
            os.environ.update({k: v for k, v in env.items() if k not in os.environ})
        print()
        results: list[dict[str, Any]] = []
        for name in load_config().pipelines:
            r = run(name)
            results.append({
                "pipeline": name, "status": r["status"], "received": r["rows_received"],
                "loaded": r["rows_loaded"], "quarantined": r["rows_quarantined"],
                "duplicate": r["rows_duplicate"], "warned": r["rows_warned"],
                "seconds": r["seconds"],
            })
    finally:
        for server in servers.values():
            server.stop()
    print(_table(results))
    print("\nEvery record received is loaded, quarantined with its reasons, or an exact "
          "duplicate:\nreceived = loaded + quarantined + duplicate.\n")
    print("Next:")
    print('  uv run simpul sql "select kode_desa, count(*) from core.penduduk group by 1 '
          'order by 1"')
    print('  uv run simpul sql "select rules, reasons_id from ops.quarantine limit 5"')
    print("  uv run simpul status")
    return 0
