"""The scale-out stack for real: CeleryExecutor on Redis + PostgreSQL metadata.

Starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``celery worker`` as
subprocesses (the venv on PATH, a fresh metadata database, a queue of its own on the local
Redis), triggers a small DAG from a temporary dags folder and waits — at most 180 s — until its
run succeeds on the Celery worker. Everything is stopped and the database dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL

pytestmark = [pytest.mark.celery, pytest.mark.postgres]

REDIS = ("127.0.0.1", 6379)
DEADLINE_SECONDS = 180
VENV_BIN = Path(sys.executable).parent

TEST_DAG = '''
"""Celery smoke test DAG (Airflow): two tasks, the second records where it ran."""
import os
from pathlib import Path

from airflow.sdk import DAG, task

from simpul.orchestration.dags import DEFAULT_ARGS

with DAG("simpul_celery_smoke", schedule=None, catchup=False,
         default_args={**DEFAULT_ARGS, "retries": 0}) as dag:
    @task
    def hello() -> int:
        return 41

    @task
    def record(n: int) -> None:
        import psutil

        ancestors = [p.pid for p in psutil.Process().parents()]
        Path(os.environ["SMOKE_MARKER"]).write_text(
            f"{n + 1} {os.getpid()} " + ",".join(map(str, ancestors))
        )

    record(hello())
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def metadata_db() -> Iterator[str]:
    """A fresh PostgreSQL database for Airflow's metadata, dropped afterwards."""
    import sqlalchemy as sa

    if not _reachable(*REDIS):
        _unavailable("Redis not reachable on 127.0.0.1:6379")
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"simpul_airflow_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL not reachable: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    """SIGTERM each started process group, then SIGKILL whatever is left after 20 s."""
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    end = time.monotonic() + 20
    for proc in procs.values():
        try:
            proc.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group: celery's pool children too
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _tail(path: Path, n: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def test_celery_executor_runs_a_dag_end_to_end(metadata_db, tmp_path):
    import sqlalchemy as sa
    from cryptography.fernet import Fernet

    started = time.monotonic()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "smoke.py").write_text(TEST_DAG)
    marker = tmp_path / "marker.txt"
    api_port, log_port = _free_port(), _free_port()
    queue = f"simpul_test_{uuid.uuid4().hex[:8]}"
    redis_db = os.environ.get("SIMPUL_TEST_REDIS_DB", "13")
    sa_url = metadata_db  # postgresql+psycopg:// (psycopg 3; Airflow 3 supports it)
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sa_url,
        # the async engine on psycopg 3 too (Airflow would otherwise pick asyncpg)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sa_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sa_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "SIMPUL_HOME": str(tmp_path / "simpul"),
        "SIMPUL_ALERT_WEBHOOK_URL": "",
        "SMOKE_MARKER": str(marker),
    }
    env.pop("SIMPUL_ALERT_SMTP_HOST", None)
    migrate = subprocess.run(
        ["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=150
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    logs = tmp_path / "logs"
    logs.mkdir()
    commands = {
        "api-server": ["airflow", "api-server", "--port", str(api_port), "--host", "127.0.0.1"],
        "scheduler": ["airflow", "scheduler"],
        "dag-processor": ["airflow", "dag-processor"],
        "worker": [
            "airflow",
            "celery",
            "worker",
            "--queues",
            queue,
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--skip-serve-logs",
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    engine = sa.create_engine(sa_url)
    try:
        for name, cmd in commands.items():
            out = (logs / f"{name}.log").open("w")
            procs[name] = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=tmp_path,
            )
        deadline = started + DEADLINE_SECONDS

        def wait_for(what: str, fn) -> object:
            while time.monotonic() < deadline:
                for name, proc in procs.items():
                    assert proc.poll() is None, f"{name} exited:\n{_tail(logs / f'{name}.log')}"
                value = fn()
                if value:
                    return value
                time.sleep(2)
            raise AssertionError(
                f"timed out waiting for {what}\n"
                + "\n".join(f"--- {n}\n{_tail(logs / f'{n}.log')}" for n in procs)
            )

        def scalar(sql: str):
            with engine.connect() as conn:
                try:
                    return conn.execute(sa.text(sql)).scalar()
                except sa.exc.ProgrammingError:
                    return None

        wait_for(
            "the DAG to be parsed",
            lambda: scalar("select count(*) from dag where dag_id = 'simpul_celery_smoke'"),
        )
        wait_for("the api-server", lambda: _reachable("127.0.0.1", api_port))
        trigger = subprocess.run(
            ["airflow", "dags", "trigger", "simpul_celery_smoke"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert trigger.returncode == 0, trigger.stderr[-3000:]

        def finished():
            state = scalar("select state from dag_run where dag_id = 'simpul_celery_smoke'")
            return state if state in ("success", "failed") else None

        state = wait_for("the run to finish", finished)
        assert state == "success", "\n".join(
            f"--- {n}\n{_tail(logs / f'{n}.log', 80)}" for n in procs
        )
        with engine.connect() as conn:
            tis = conn.execute(
                sa.text(
                    "select task_id, state, queue from task_instance "
                    "where dag_id = 'simpul_celery_smoke' order by task_id"
                )
            ).all()
        assert [(t.task_id, t.state, t.queue) for t in tis] == [
            ("hello", "success", queue),
            ("record", "success", queue),
        ]
        value, _pid, ancestors = marker.read_text().split(" ")
        assert value == "42"  # XCom passed between tasks through the metadata DB
        assert str(procs["worker"].pid) in ancestors.split(","), "did not run on the worker"
    finally:
        engine.dispose()
        _stop(procs)
        _cleanup_redis(redis_db, queue)
    print(f"celery stack test: {time.monotonic() - started:.0f}s")


def _cleanup_redis(db: str, queue: str) -> None:
    try:
        import redis

        client = redis.Redis(host=REDIS[0], port=REDIS[1], db=int(db))
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
    except Exception:  # noqa: BLE001 - best effort; a unique queue name never collides
        pass
