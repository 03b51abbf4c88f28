"""Shared fixtures: an isolated SIMPUL_HOME, and warehouses on DuckDB and a real PostgreSQL.

PostgreSQL: a fresh database per test session, dropped afterwards. In CI (CI=true) an
unreachable server fails the run instead of skipping, so the Postgres tests always count.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Airflow reads its home and metadata URL once, at first import, and some modules under test
# import it; so the throw-away home is fixed here, before any test module is collected.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="simpul-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)

# Tests open fresh warehouses on both engines and expect them at head: upgrade at open, as the
# embedded default does (production PostgreSQL is upgraded by `simpul db upgrade` instead;
# tests of that refusal set SIMPUL_AUTO_MIGRATE=0 themselves).
os.environ.setdefault("SIMPUL_AUTO_MIGRATE", "1")

PG_ADMIN_URL = os.environ.get(
    "SIMPUL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def simpul_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SIMPUL_HOME", str(home))
    monkeypatch.delenv("SIMPUL_WAREHOUSE_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this session."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"simpul_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A clean warehouse on the session database: schemas dropped before each test."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        for schema in ("ref", "raw", "core", "marts", "ops", "analyst"):
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
    yield pg_database


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(
    request: pytest.FixtureRequest, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The same test on both engines; SIMPUL_WAREHOUSE_URL points the pipeline at it."""
    if request.param == "duckdb":
        url = f"duckdb:///{simpul_home / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", url)
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import shutil

    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
