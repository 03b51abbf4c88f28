"""A small generated world and live simulators for the connector tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from simpul.synth import WorldConfig, generate_world


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("connector_world")
    generate_world(WorldConfig(seed=7, population=600)).write(d)
    return d


@pytest.fixture
def sims(
    small_world: Path, tmp_path: Path, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict]:
    """SIAK and OSS simulators on free ports over a private copy of the world (time advances
    mutate it); the hub's env vars point at them."""
    from simpul.simulators.runner import serve_all

    world = tmp_path / "world"
    shutil.copytree(small_world, world)
    handles = serve_all(world, base_port=0, only=["siak", "oss"])
    for h in handles.values():
        for k, v in h.env().items():
            monkeypatch.setenv(k, v)
        requests.post(f"{h.url}/admin/faults", json={}, timeout=5)  # no rate limit by default
    try:
        yield handles
    finally:
        for h in handles.values():
            h.stop()


def set_faults(handle, **faults) -> None:
    r = requests.post(f"{handle.url}/admin/faults", json=faults, timeout=5)
    assert r.status_code == 200, r.text
