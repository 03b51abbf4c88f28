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
