"""The DuckDB warehouse's memory default: bounded unless the operator says otherwise (DuckDB
alone would take up to 80 % of RAM in every task process; a 2,000,000-resident load then
peaked at 2.6 GB, bench/RESULTS.md), a setting in the URL wins, PostgreSQL is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul import atrest
from simpul.warehouse.engine import (
    DUCKDB_MEMORY_ENV,
    _create_engine,
    duckdb_defaults,
    open_warehouse,
)

GIB = 2**30


def _memory_limit(url: str) -> str:
    engine = _create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar())
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DUCKDB_MEMORY_ENV, raising=False)
    monkeypatch.delenv(atrest.KEY_ENV, raising=False)


def test_default_memory_limit(tmp_path: Path) -> None:
    assert _memory_limit(f"duckdb:///{tmp_path / 'w.duckdb'}") == "953.6 MiB"  # 1 GB


def test_url_setting_wins_over_default(tmp_path: Path) -> None:
    assert duckdb_defaults(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=3GB") == {}
    assert _memory_limit(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=3GB") == "2.7 GiB"


def test_environment_sets_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "2GB")
    assert _memory_limit(f"duckdb:///{tmp_path / 'w.duckdb'}") == "1.8 GiB"
    # the URL still wins over the environment
    assert _memory_limit(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=512MB") == "488.2 MiB"


def test_encrypted_file_gets_default_and_url_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(atrest.KEY_ENV, "a-test-key-of-sufficient-length-0123456789")
    path = tmp_path / "w.duckdb"
    assert _memory_limit(f"duckdb:///{path}") == "953.6 MiB"
    assert _memory_limit(f"duckdb:///{path}?memory_limit=3GB") == "2.7 GiB"
    assert not (tmp_path / "w.duckdb?memory_limit=3GB").exists()  # the query is not the name
    engine = _create_engine(f"duckdb:///{path}")
    try:
        with engine.connect() as conn:
            spill = conn.exec_driver_sql(
                "SELECT current_setting('temp_directory'), current_setting('temp_file_encryption')"
            ).one()
    finally:
        engine.dispose()
    assert tuple(spill) == (f"{path}.tmp", True)  # spilled pages encrypted, beside the file


@pytest.mark.postgres
def test_postgresql_unaffected(pg_url: str) -> None:
    wh = open_warehouse(pg_url, check=False)
    try:
        assert wh.dialect == "postgresql"
        assert not wh.engine.url.query
        assert wh.scalar("select 1") == 1
    finally:
        wh.dispose()
