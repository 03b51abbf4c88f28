"""``uv run python -m bench.celery_province``: the province partitions on two Celery workers
against the same partitions run one after the other (issue 18 item 6).

Both write a fresh PostgreSQL warehouse (the shared warehouse of several workers), dropped
afterwards. *Serial*: each partition in its own process, one after the other, then the marts.
*Celery*: a real Airflow 3 (api-server on ``--port``, scheduler, dag-processor, metadata in a
fresh PostgreSQL database, broker Redis 6379) runs ``dags/simpul_province.py`` with two Celery
workers of one slot each; the time is the DAG run's, trigger to success. Every process started
here is stopped (its process group) before the script ends.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.__main__ import PG_ADMIN, _pg_create, _pg_drop
from bench.province import hub_env, prepare, province_files

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def serial(files: list[Path], env: dict[str, str]) -> dict[str, Any]:
    """Each partition in its own process, one after the other, then the marts."""
    code = (
        "import json, sys\nfrom simpul.orchestration import province\n"
        "p = json.loads(sys.argv[1])\n"
        "r = province.run_partition(p) if p else province.build_marts_after([])\n"
        "print(json.dumps(r, default=str))\n"
    )
    started, parts = time.monotonic(), []
    for f in files:
        arg = json.dumps({"kabupaten": f.stem, "file": str(f)})
        out = subprocess.run([sys.executable, "-c", code, arg], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        parts.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print("  serial", parts[-1], flush=True)
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", code, "{}"], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    marts = round(time.monotonic() - t, 1)
    return {"wall_s": round(time.monotonic() - started, 1), "marts_s": marts, "partitions": parts}


def _airflow_env(home: Path, dags: Path, meta: str, port: int, queue: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": meta,
        "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/12",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "SIMPUL_ALERT_WEBHOOK_URL": "",
    }


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _start(env: dict[str, str], logs: Path, port: int, queue: str) -> dict[str, subprocess.Popen]:
    worker = ["airflow", "celery", "worker", "--queues", queue, "--concurrency", "1",
              "--without-gossip", "--without-mingle", "--skip-serve-logs"]  # fmt: skip
    commands = {
        "api-server": ["airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"],
        "scheduler": ["airflow", "scheduler"],
        "dag-processor": ["airflow", "dag-processor"],
        "worker1": [*worker, "--celery-hostname", f"w1-{queue}@%h"],
        "worker2": [*worker, "--celery-hostname", f"w2-{queue}@%h"],
    }
    procs = {}
    for name, cmd in commands.items():
        out = (logs / f"{name}.log").open("w")
        # each worker its own SIMPUL_HOME, as on its own machine: the pipeline's per-stream
        # run lock (a file lock in the home) would otherwise let one partition run at a time
        own = {"SIMPUL_HOME": f"{env['SIMPUL_HOME']}/{name}"} if name.startswith("worker") else {}
        procs[name] = subprocess.Popen(cmd, env={**env, **own}, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       cwd=logs)  # fmt: skip
    return procs


def celery(files: list[Path], env: dict[str, str], port: int, home: Path) -> dict[str, Any]:
    """The province DAG on two Celery workers; the DAG run's time and its tasks'."""
    import sqlalchemy as sa

    shutil.rmtree(home, ignore_errors=True)
    dags, logs = home / "dags", home / "logs"
    for d in (dags, logs):
        d.mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "simpul_province.py", dags)
    meta = _pg_create()
    assert meta is not None, "PostgreSQL is needed"
    queue = f"simpul_scale_{uuid.uuid4().hex[:6]}"
    full = {**os.environ, **env, **_airflow_env(home, dags, meta, port, queue),
            "SIMPUL_PROVINCE_DIR": str(files[0].parent)}  # fmt: skip
    subprocess.run(["airflow", "db", "migrate"], env=full, check=True, capture_output=True)
    procs = _start(full, logs, port, queue)
    engine = sa.create_engine(meta)
    try:
        return _run_dag(engine, full, procs, logs)
    finally:
        _stop(procs)
        engine.dispose()
        _pg_drop(meta)


def _run_dag(engine: Any, env: dict[str, str], procs: dict, logs: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    def scalar(sql: str) -> Any:
        with engine.connect() as conn:
            try:
                return conn.execute(sa.text(sql)).scalar()
            except sa.exc.ProgrammingError:
                return None

    def wait(what: str, fn: Any, limit: float) -> Any:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                raise SystemExit(f"{dead} exited; see {logs}")
            if value := fn():
                return value
            time.sleep(1)
        raise SystemExit(f"timed out waiting for {what}; see {logs}")

    parsed = "select count(*) from dag where dag_id = 'simpul_province'"
    wait("the DAG", lambda: scalar(parsed), 300)
    t = time.monotonic()
    subprocess.run(["airflow", "dags", "trigger", "simpul_province"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    state = wait("the run", lambda: scalar(
        "select state from dag_run where dag_id = 'simpul_province' and state in "
        "('success', 'failed')"), 3600)  # fmt: skip
    wall = time.monotonic() - t
    with engine.connect() as conn:
        tis = conn.execute(sa.text(
            "select task_id, map_index, hostname, state, extract(epoch from end_date - start_date) "
            "from task_instance where dag_id = 'simpul_province' order by start_date"
        )).all()  # fmt: skip
        run = conn.execute(sa.text(
            "select extract(epoch from end_date - start_date) from dag_run "
            "where dag_id = 'simpul_province'")).scalar()  # fmt: skip
    return {"state": state, "trigger_to_end_s": round(wall, 1), "dag_run_s": float(run or 0),
            "tasks": [[str(x) if not isinstance(x, (int, float)) else x for x in r]
                      for r in tis]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.celery_province", description=__doc__)
    ap.add_argument("--population", type=int, default=100_000, help="residents per partition")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--port", type=int, default=28080)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/scale-bench/celery"))
    ap.add_argument("--airflow-home", type=Path, default=Path("/tmp/scale-airflow"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--modes", default="serial,celery")
    args = ap.parse_args(argv)
    source = prepare(args.workdir, args.population, 7)
    files = province_files(source, args.workdir / f"provinsi_{args.population}", args.partitions)
    out: dict[str, Any] = {"pg": PG_ADMIN.rsplit("@", 1)[-1]}
    for mode in args.modes.split(","):
        url = _pg_create()
        assert url is not None, "PostgreSQL is needed"
        env = {**os.environ, **hub_env(args.workdir / f"home_{mode}_{os.getpid()}", url)}
        upgrade = "from simpul.warehouse import open_warehouse; open_warehouse().dispose()"
        subprocess.run(
            [sys.executable, "-c", upgrade],
            env={**env, "SIMPUL_AUTO_MIGRATE": "1"},
            cwd=ROOT,
            check=True,
        )  # fmt: skip (once per deployment: `simpul db upgrade`)
        try:
            if mode == "serial":
                out[mode] = serial(files, env)
            else:
                out[mode] = celery(files, env, args.port, args.airflow_home)
        finally:
            _pg_drop(url)
        print(mode, json.dumps(out[mode]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
