"""A throw-away Airflow home (SQLite metadata) for the DAG tests, migrated once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simpul.orchestration.receivers import webhook  # noqa: F401 - fixture


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's Airflow home (set in tests/conftest.py before Airflow is imported),
    with its SQLite metadata migrated once."""
    home = Path(os.environ["AIRFLOW_HOME"])
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=dict(os.environ),
    )
    return home


@pytest.fixture(autouse=True)
def _short_retry_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """DAG tests that take an agency away need not wait out the 5-minute mobile-link budget
    (the budget itself is tested in tests/connectors and tests/reliability)."""
    monkeypatch.setenv("SIMPUL_RETRY_BUDGET_SECONDS", "3")
