"""``uv run python -m bench``: the kabupaten-scale benchmark (see bench/RESULTS.md).

Default: OKU Timur at realistic size (~650,000 residents, ~200,000 families, permits), every
stage on DuckDB and PostgreSQL, a 1 % incremental run and Airflow's per-task overhead. The
comparison with a rule-equivalent floor and dlt is ``python -m bench.yardstick`` (issue 18).
``--full`` adds a 2,000,000-resident province slice (DuckDB only unless
``--engines`` says otherwise). ``--population N`` runs another size (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import data

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "SIMPUL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENTITY = {"siak_penduduk": "penduduk", "siak_keluarga": "keluarga", "oss_izin": "izin"}
PSEUDONYM_KEY = "simpul-bench-pseudonym-key-not-for-production-0123456789"


class Bench:
    def __init__(self, workdir: Path, label: str, env: dict[str, str]):
        self.workdir = workdir
        self.label = label
        self.env = env
        self.results: list[dict[str, Any]] = []

    def stage(self, stage: str, name: str, engine: str, args: dict[str, Any], **env) -> dict:
        out = self.workdir / f"result-{uuid.uuid4().hex[:8]}.json"
        full_env = {**os.environ, **self.env, **env}
        t = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.worker", stage, json.dumps(args), str(out)],
            cwd=ROOT,
            env=full_env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"bench stage {stage} {name} failed")
        r = json.loads(out.read_text())
        out.unlink()
        r.update(
            name=name, engine=engine, scale=self.label, process_s=round(time.monotonic() - t, 2)
        )
        self.results.append(r)
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0
        print(
            f"  {stage:<13} {name:<22} {engine:<9} {r['rows']:>10,} rows {r['seconds']:>8.2f}s "
            f"{rate:>10,.0f} rows/s  peak {r['peak_rss_mb']:>7,.0f} MB",
            flush=True,
        )
        return r


def _bench_config(home: Path) -> Path:
    """simpul.yaml with every kecamatan of OKU Timur (no kecamatan filter on SIAK)."""
    from simpul.synth import codes

    cfg = yaml.safe_load((ROOT / "simpul.yaml").read_text())
    cfg["kecamatan"] = list(codes.regions().okut_districts)
    path = home / "simpul.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _pg_create() -> str | None:
    import sqlalchemy as sa

    name = f"simpul_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        print(f"  PostgreSQL not reachable, skipped: {type(exc).__name__}")
        return None
    finally:
        admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _pg_drop(url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


class Simulator:
    """The SIAK simulator in its own process (so it does not share CPU time or RSS with the
    measured extract)."""

    CODE = (
        "import json, sys\n"
        "from simpul.simulators.runner import serve_all\n"
        "s = serve_all(sys.argv[1], base_port=0, only=['siak'], defect_rate=float(sys.argv[2]),"
        " seed=int(sys.argv[3]), home_dir=sys.argv[4])['siak']\n"
        "print(json.dumps(s.env()), flush=True)\n"
        "sys.stdin.read()\n"
    )

    def __init__(self, world: Path, home: Path, seed: int, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                self.CODE,
                str(world),
                str(data.DEFECT_RATE),
                str(seed),
                str(home),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("SIAK simulator did not start")
        self.env = json.loads(line)

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_scale(
    workdir: Path,
    label: str,
    population: int | None,
    seed: int,
    engines: list[str],
    *,
    http: bool,
    incremental: bool = True,
) -> list[dict[str, Any]]:
    base = workdir / label
    world, src, home = base / "world", base / "src", base / "home"
    shutil.rmtree(home, ignore_errors=True)  # a fresh warehouse; world and sources are reused
    for d in (world, src, home):
        d.mkdir(parents=True, exist_ok=True)
    print(f"\n== {label}: preparing data (not measured)", flush=True)
    counts = data.timed("world", data.make_world, world, population, seed)
    print(f"  world: {counts}")
    data.timed("source files", data.make_sources, world, src, seed)
    env = {
        "SIMPUL_HOME": str(home),
        "SIMPUL_CONFIG": str(_bench_config(home)),
        "SIMPUL_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "SIMPUL_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}",
        "GX_ANALYTICS_ENABLED": "false",
    }
    b = Bench(workdir, label, env)
    urls = {"duckdb": env["SIMPUL_WAREHOUSE_URL"]}
    pg = _pg_create() if "postgres" in engines else None
    if pg:
        urls["postgres"] = pg
    try:
        print(f"== {label}: hub stages", flush=True)
        if http:
            sim = Simulator(world, home, seed, env)
            try:
                b.stage(
                    "extract_http", "siak_penduduk", "-", {"pipeline": "siak_penduduk"}, **sim.env
                )
            finally:
                sim.stop()
        landed: dict[str, str] = {}
        for pipeline, (source, stream, cursor) in data.SOURCES.items():
            f = src / f"{pipeline}.parquet"
            r = b.stage(
                "land_file",
                pipeline,
                "-",
                {"file": str(f), "source": source, "stream": stream, "cursor": cursor},
            )
            landed[pipeline] = r["load_id"]
            b.stage("transform", pipeline, "-", {"pipeline": pipeline, "load_id": r["load_id"]})
        for engine, url in urls.items():
            for pipeline, load_id in landed.items():
                b.stage(
                    "load",
                    pipeline,
                    engine,
                    {"pipeline": pipeline, "load_id": load_id},
                    SIMPUL_WAREHOUSE_URL=url,
                )
            b.stage("marts", "marts", engine, {}, SIMPUL_WAREHOUSE_URL=url)
            b.stage("exchange", "exchange", engine, {}, SIMPUL_WAREHOUSE_URL=url)
        if incremental:
            print(f"== {label}: incremental run (1 % of residents changed)", flush=True)
            inc = src / "siak_penduduk_increment.parquet"
            data.make_increment(src, inc, 0.01, seed)
            r = b.stage(
                "land_file",
                "siak_penduduk+1%",
                "-",
                {"file": str(inc), "source": "siak", "stream": "penduduk", "cursor": "UPDATED_AT"},
            )
            b.stage(
                "transform",
                "siak_penduduk+1%",
                "-",
                {"pipeline": "siak_penduduk", "load_id": r["load_id"]},
            )
            for engine, url in urls.items():
                b.stage(
                    "load",
                    "siak_penduduk+1%",
                    engine,
                    {"pipeline": "siak_penduduk", "load_id": r["load_id"]},
                    SIMPUL_WAREHOUSE_URL=url,
                )
                b.stage("marts", "marts+1%", engine, {}, SIMPUL_WAREHOUSE_URL=url)
    finally:
        if pg:
            _pg_drop(pg)
    return b.results


def machine() -> dict[str, str]:
    import duckdb

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    pgv = "n/a"
    try:
        import sqlalchemy as sa

        e = sa.create_engine(PG_ADMIN)
        with e.connect() as c:
            pgv = c.exec_driver_sql("show server_version").scalar()
        e.dispose()
    except Exception:  # noqa: BLE001 - reported as n/a
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "postgresql": pgv,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = "| scale | stage | pipeline | engine | rows | wall s | rows/s | peak RSS MB | import s |"
    lines = [head, "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0
        lines.append(
            f"| {r['scale']} | {r['stage']} | {r['name']} | {r['engine']} | {r['rows']:,} | "
            f"{r['seconds']:.2f} | {rate:,.0f} | {r['peak_rss_mb']:,.0f} | {r['import_s']:.1f} |"
        )
    return "\n".join(lines)


def summary(results: list[dict[str, Any]]) -> str:
    lines = ["| scale | engine | hub land+map+validate+load s | "
             "end to end (+marts+exchange) s | incremental 1 % s | max peak RSS MB |",
             "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for scale in dict.fromkeys(r["scale"] for r in results):
        rs = [r for r in results if r["scale"] == scale]
        shared = sum(
            r["seconds"]
            for r in rs
            if r["stage"] in ("land_file", "transform") and "+1%" not in r["name"]
        )
        inc_shared = sum(
            r["seconds"]
            for r in rs
            if r["stage"] in ("land_file", "transform") and "+1%" in r["name"]
        )
        for engine in dict.fromkeys(r["engine"] for r in rs if r["engine"] not in ("-",)):
            er = [r for r in rs if r["engine"] == engine]
            load = sum(r["seconds"] for r in er if r["stage"] == "load" and "+1%" not in r["name"])
            extra = sum(
                r["seconds"]
                for r in er
                if r["stage"] in ("marts", "exchange") and "+1%" not in r["name"]
            )
            inc = inc_shared + sum(
                r["seconds"] for r in er if r["stage"] == "load" and "+1%" in r["name"]
            )
            hub = shared + load
            peak = max(r["peak_rss_mb"] for r in rs if r["engine"] in (engine, "-"))
            lines.append(
                f"| {scale} | {engine} | {hub:.1f} | {hub + extra:.1f} | {inc:.1f} | {peak:,.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--full", action="store_true", help="also the 2,000,000-resident slice")
    ap.add_argument("--population", type=int, default=None, help="residents (default: OKU Timur)")
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--full-engines", default="duckdb", help="engines for the --full slice")
    ap.add_argument("--no-http", action="store_true", help="skip the SIAK-over-HTTP extract")
    ap.add_argument("--no-airflow", action="store_true", help="skip the Airflow overhead probe")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    started = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="simpul-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    m = machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in m.items()))
    print("workdir:", workdir)
    engines = [e for e in args.engines.split(",") if e]
    label = "oku_timur" if args.population is None else f"pop_{args.population}"
    results = run_scale(workdir, label, args.population, args.seed, engines, http=not args.no_http)
    if args.full:
        results += run_scale(
            workdir, "province_2m", 2_000_000, args.seed,
            [e for e in args.full_engines.split(",") if e], http=False,
        )  # fmt: skip
    airflow = None
    if not args.no_airflow:
        print(
            "== Airflow per-task overhead (dag.test() of a 5-task DAG vs direct calls)", flush=True
        )
        b = Bench(workdir, "airflow", {})
        airflow = b.stage("airflow", "tiny_dag", "-", {})
    print("\n" + table(results))
    print("\n" + summary(results))
    if airflow:
        print(
            f"\nAirflow {airflow.get('dag_test_s')} s for {airflow['rows']} tasks by dag.test() "
            f"vs {airflow.get('direct_s')} s direct: {airflow.get('per_task_overhead_s')} s per "
            f"task (db migrate {airflow.get('db_migrate_s')} s, first dag.test() "
            f"{airflow.get('dag_test_first_s')} s, import+parse {airflow.get('import_parse_s')} s)"
        )
    total = time.monotonic() - started
    print(f"\nbench wall time {total:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": m, "results": results, "airflow": airflow, "wall_s": total}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
