"""Fixtures for the orchestration tests: local alert receivers, the ``celery`` marker."""

from __future__ import annotations

import pytest

from tests.simpul.orchestration.receivers import mailbox, webhook  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "celery: starts a real CeleryExecutor stack (Redis + PostgreSQL)"
    )
