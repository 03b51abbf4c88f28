"""``uv run --group bench python -m bench.yardstick``: the hub against an honest floor (issue 18).

The same landed SIAK penduduk delivery (full, then a 1 % increment with changed addresses) goes
through, in the same run and alternated (A B C D E A B C D E ...), each in its own processes:

- **floor bare**: hand-written DuckDB SQL, rule-equivalent (``bench.floor``): same rules,
  severities, quarantine, merge by NIK, SCD2 history (the ratios' 1.00);
- **floor**: the same plus raw rows, findings and load record;
- **dlt merge / dlt scd2**: dlt into DuckDB with the suite's checks in pandera
  (``bench.dlt_peer``; needs the ``bench`` dependency group, skipped without it);
- **hub**: Simpul's transform + load (``simpul.pipeline``) into DuckDB.

Every repetition starts from empty warehouses. After each hub transform its findings are compared
with the floor's and the dlt peer's, (row, rule) pair by pair, and the counts quarantined /
warnings / loaded: any difference is printed loudly and the exit status is 1. *stage s* is the
work alone (imports made before the clock), *process s* the whole process(es) as a task pays
them; peak RSS is the largest process's high-water mark.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench import data, floor
from bench.__main__ import Bench, machine
from bench.province import hub_env

SYSTEMS = ("floor bare", "floor", "dlt merge", "dlt scd2", "hub")


def _prepare(workdir: Path, population: int | None, seed: int) -> tuple[Path, Path, Path]:
    world, src = workdir / "world", workdir / "src"
    world.mkdir(parents=True, exist_ok=True)
    print("== preparing data (not measured)", flush=True)
    print("  world:", data.timed("world", data.make_world, world, population, seed))
    data.timed("source files", data.make_sources, world, src, seed)
    inc = src / "siak_penduduk_increment.parquet"
    if not inc.exists():
        data.make_increment(src, inc, 0.01, seed)
    return world, src / "siak_penduduk.parquet", inc


def _check(
    label: str, hub: dict[str, Any], hub_findings: Path, other: dict[str, Any], found: Path
) -> list[str]:
    """Differences between the hub's outcome and another system's (empty when equal)."""
    problems = []
    c = floor.compare(pd.read_parquet(hub_findings), pd.read_parquet(found))
    if not c["equal"]:
        problems.append(
            f"{label}: findings differ: {c['only_hub']} only in the hub, {c['only_floor']} only "
            f"in {label}; by rule [hub-only, {label}-only]: {c['by_rule']}"
        )
    for k in ("quarantined", "warned", "valid"):
        if hub[k] != other[k]:
            problems.append(f"{label}: {k} hub {hub[k]} != {other[k]}")
    return problems


def run(
    workdir: Path,
    population: int | None,
    seed: int,
    repeats: int,
    systems: list[str],
    on_repetition: Any = None,
) -> tuple[list[dict[str, Any]], list[str], dict[str, int]]:
    """Every system on the full delivery then the increment, ``repeats`` times, alternated;
    ``on_repetition(results, problems, counts)`` after each repetition (partial results)."""
    world, full_src, inc_src = _prepare(workdir, population, seed)
    results: list[dict[str, Any]] = []
    problems: list[str] = []
    counts: dict[str, int] = {}
    for rep in range(1, repeats + 1):
        repdir = workdir / f"rep{rep}"
        shutil.rmtree(repdir, ignore_errors=True)
        env = hub_env(repdir / "home", None)
        b = Bench(repdir, f"rep{rep}", env)
        print(f"== repetition {rep}: landing (not measured)", flush=True)
        landed = {}
        for kind, f in (("full", full_src), ("inc", inc_src)):
            r = b.stage(
                "land_file", f"siak_penduduk {kind}", "-",
                {"file": str(f), "source": "siak", "stream": "penduduk", "cursor": "UPDATED_AT"},
            )  # fmt: skip
            landed[kind] = (r["load_id"], Path(env["SIMPUL_HOME"]) / "landing" / "siak" /
                            "penduduk" / r["load_id"] / "data.parquet")  # fmt: skip
        b.results.clear()
        outcome: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
        for system in systems:
            for kind in ("full", "inc"):
                load_id, file = landed[kind]
                found = repdir / f"findings-{system.replace(' ', '_')}-{kind}.parquet"
                parts: list[dict[str, Any]] = []
                if system.startswith("floor"):
                    bare = system == "floor bare"
                    parts.append(b.stage("floor", f"{system} {kind}", "duckdb", {
                        "file": str(file), "load_id": load_id, "findings": str(found),
                        "db": str(repdir / f"floor{'_bare' if bare else ''}.duckdb"),
                        "guarantees": not bare}))  # fmt: skip
                elif system.startswith("dlt"):
                    strategy = "upsert" if system == "dlt merge" else "scd2"
                    parts.append(b.stage("dlt", f"{system} {kind}", "duckdb", {
                        "file": str(file), "db": str(repdir / f"dlt_{strategy}.duckdb"),
                        "load_id": load_id, "findings": str(found), "strategy": strategy,
                        "pipelines_dir": str(repdir / "dlt_pipelines")}))  # fmt: skip
                else:
                    t = b.stage("transform", f"hub {kind}", "-",
                                {"pipeline": "siak_penduduk", "load_id": load_id})  # fmt: skip
                    ld = b.stage("load", f"hub {kind}", "duckdb",
                                 {"pipeline": "siak_penduduk", "load_id": load_id})  # fmt: skip
                    found = Path(t["staging"]) / "findings.parquet"
                    parts += [t, ld]
                    parts[0] = {**t, "loaded": ld.get("merged")}
                out = {
                    "system": system,
                    "kind": kind,
                    "rep": rep,
                    "stage_s": sum(p["seconds"] for p in parts),
                    "process_s": sum(p["process_s"] for p in parts),
                    "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
                    **{k: parts[0].get(k) for k in ("rows", "valid", "quarantined", "warned")},
                }
                results.append(out)
                outcome[(system, kind)] = (out, found)
        for kind in ("full", "inc"):
            if ("hub", kind) not in outcome:
                continue
            hub, hub_found = outcome[("hub", kind)]
            if kind == "full":
                counts = {k: hub[k] for k in ("rows", "quarantined", "warned", "valid")}
            for system in systems:
                if system != "hub":
                    other, found = outcome[(system, kind)]
                    problems += [
                        f"rep {rep} {kind}: {p}"
                        for p in _check(system, hub, hub_found, other, found)
                    ]
        if on_repetition:
            on_repetition(results, problems, counts)
    return results, problems, counts


def table(results: list[dict[str, Any]], stat: str = "median") -> str:
    """Ratios to the floor of the ``stat`` (median or min) over repetitions. On a shared
    machine the minimum is the run least disturbed by other jobs."""
    pick = statistics.median if stat == "median" else min

    def med(system: str, kind: str, key: str) -> float:
        vals = [r[key] for r in results if r["system"] == system and r["kind"] == kind]
        return pick(vals) if vals else float("nan")

    # the ratios are to the bare floor (issue 18's yardstick) when it ran
    floor_name = "floor bare" if any(r["system"] == "floor bare" for r in results) else "floor"
    lines = [
        f"| system | full: stage s ({stat}) | ratio | process s | ratio | 1 % incr.: stage s "
        "| ratio | process s | ratio | peak RSS MB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for system in dict.fromkeys(r["system"] for r in results):
        cells = []
        for kind in ("full", "inc"):
            for key in ("stage_s", "process_s"):
                v, base = med(system, kind, key), med(floor_name, kind, key)
                cells += [f"{v:.2f}", f"{v / base:.2f}" if base == base and base else "-"]
        peak = max(r["peak_rss_mb"] for r in results if r["system"] == system)
        lines.append(f"| {system} | " + " | ".join(cells) + f" | {peak:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.yardstick", description=__doc__)
    ap.add_argument(
        "--scale", type=int, default=None, help="residents (default: OKU Timur, ~650,000)"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    if any(s.startswith("dlt") for s in systems) and not importlib.util.find_spec("dlt"):
        print("dlt not installed (uv sync --group bench): dlt peers skipped", flush=True)
        systems = [s for s in systems if not s.startswith("dlt")]
    started = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="simpul-yardstick-"))
    workdir.mkdir(parents=True, exist_ok=True)
    m = machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in m.items()))
    print("workdir:", workdir)

    def partial(results: list, problems: list, counts: dict) -> None:
        if args.json:
            args.json.write_text(json.dumps(
                {"machine": m, "results": results, "problems": problems, "counts": counts,
                 "partial": True}, indent=2))  # fmt: skip
        print("\n" + table(results), flush=True)

    results, problems, counts = run(
        workdir, args.scale, args.seed, args.repeats, systems, on_repetition=partial
    )
    print("\n" + table(results))
    print("\n" + table(results, "min"))
    print(
        f"\nfull delivery: {counts.get('rows', 0):,} rows, {counts.get('quarantined', 0):,} "
        f"quarantined, {counts.get('warned', 0):,} with warnings only, "
        f"{counts.get('valid', 0):,} loaded"
    )
    if problems:
        print("\n" + "!" * 78)
        print("!!! FINDINGS DIFFER: the comparison below is NOT of the same work !!!")
        for p in problems:
            print("!!! " + p)
        print("!" * 78)
    else:
        print("findings: every (row, rule) pair and every count equal to the hub's in every run")
    total = time.monotonic() - started
    print(f"yardstick wall time {total:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": m, "results": results, "problems": problems, "counts": counts,
             "wall_s": total}, indent=2))  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
