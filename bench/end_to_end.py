"""``uv run python -m bench.end_to_end``: OKU Timur end to end (issue 18 item 5, target < 30 s).

One OKU Timur-sized delivery (the synthetic world of all 20 kecamatan at OKU Timur's realistic
population, ~650,000 residents: :func:`bench.data.make_world`) goes through every stage a
nightly run does: land (SIAK penduduk and keluarga, OSS izin, from the agencies' own rows as
:mod:`bench.data` writes them), transform, load, the marts, and the exchange (every agreement
delivered from the marts/core to the demo's stand-in agencies, as ``simpul demo`` does). Then a
1 % increment (changed addresses of 1 % of the residents) goes through the same stages.

Every stage runs in its own process (:mod:`bench.worker`): ``stage s`` is the stage's own work,
``process s`` what a task pays (interpreter and imports included). Preparing the world and the
source files is not measured and is reused from ``--workdir`` on the next run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import data
from bench.__main__ import Bench, machine
from bench.province import hub_env

STAGES = ("land", "transform", "load", "marts", "exchange")
WORKER_STAGE = {"land_file": "land"}


def _deliver(b: Bench, files: dict[str, Path], tag: str) -> None:
    """Land and transform every file, load them in order, then the marts and the exchange."""
    landed: dict[str, str] = {}
    for pipeline, f in files.items():
        source, stream, cursor = data.SOURCES[pipeline]
        args = {"file": str(f), "source": source, "stream": stream, "cursor": cursor}
        landed[pipeline] = b.stage("land_file", pipeline + tag, "-", args)["load_id"]
    for pipeline, load_id in landed.items():
        b.stage("transform", pipeline + tag, "-", {"pipeline": pipeline, "load_id": load_id})
    for pipeline, load_id in landed.items():
        b.stage("load", pipeline + tag, "duckdb", {"pipeline": pipeline, "load_id": load_id})
    b.stage("marts", "marts" + tag, "duckdb", {})
    b.stage("exchange", "exchange" + tag, "duckdb", {})


def totals(results: list[dict[str, Any]], tag: str) -> dict[str, tuple[float, float]]:
    """(stage s, process s) per stage of one delivery, summed over its pipelines."""
    out = {s: (0.0, 0.0) for s in STAGES}
    for r in results:
        if r["name"].endswith(tag) and (tag or "+1%" not in r["name"]):
            s = WORKER_STAGE.get(r["stage"], r["stage"])
            out[s] = (out[s][0] + r["seconds"], out[s][1] + r["process_s"])
    return out


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: each stage for the full delivery and the 1 % increment, and the total."""
    full, inc = totals(results, ""), totals(results, "+1%")
    lines = [
        "| stage | full: stage s | full: process s | 1 %: stage s | 1 %: process s |",
        "|---|--:|--:|--:|--:|",
    ]
    for s in (*STAGES, "total"):
        f = full[s] if s != "total" else tuple(map(sum, zip(*full.values(), strict=True)))
        i = inc[s] if s != "total" else tuple(map(sum, zip(*inc.values(), strict=True)))
        name = "**end to end**" if s == "total" else s
        lines.append(f"| {name} | {f[0]:.1f} | {f[1]:.1f} | {i[0]:.1f} | {i[1]:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__)
    ap.add_argument("--population", type=int, default=None, help="default: OKU Timur, ~650,000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "simpul-e2e")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    base = args.workdir / f"okut_{args.population or 'real'}_{args.seed}"
    world, src, home = base / "world", base / "src", base / "home"
    shutil.rmtree(home, ignore_errors=True)  # a fresh warehouse; world and sources are reused
    for d in (world, src, home):
        d.mkdir(parents=True, exist_ok=True)
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    counts = data.timed("world", data.make_world, world, args.population, args.seed)
    print(f"  world: {counts}", flush=True)
    data.timed("source files", data.make_sources, world, src, args.seed)
    inc = src / "siak_penduduk_increment.parquet"
    if not inc.exists():
        data.make_increment(src, inc, 0.01, args.seed)
    b = Bench(args.workdir, "okut", hub_env(home, None))
    print("== full delivery", flush=True)
    _deliver(b, {p: src / f"{p}.parquet" for p in data.SOURCES}, "")
    print("== 1 % increment (changed addresses)", flush=True)
    _deliver(b, {"siak_penduduk": inc}, "+1%")
    print(table(b.results), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": b.results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
