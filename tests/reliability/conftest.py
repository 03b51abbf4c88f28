"""A small world served by a live SIAK simulator, shared by the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from simpul.synth import WorldConfig, generate_world


@pytest.fixture(scope="session")
def rel_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("reliability_world")
    generate_world(WorldConfig(seed=7, population=600)).write(d)
    return d


@pytest.fixture(scope="session")
def world_niks(rel_world: Path) -> set[str]:
    return set(pq.read_table(rel_world / "penduduk.parquet", columns=["nik"])["nik"].to_pylist())


@pytest.fixture(scope="module")
def siak(rel_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The SIAK simulator over the (never advanced) world: every run sees the same data."""
    from simpul.simulators.runner import serve_all

    home = tmp_path_factory.mktemp("sim_home")
    handles = serve_all(rel_world, base_port=0, only=["siak"], home_dir=home)
    h = handles["siak"]
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture
def siak_env(siak, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the hub at the simulator, faults cleared."""
    requests.post(f"{siak.url}/admin/faults", json={}, timeout=5).raise_for_status()
    for k, v in siak.env().items():
        monkeypatch.setenv(k, v)
    return siak.env()


def set_faults(handle, **faults) -> None:
    r = requests.post(f"{handle.url}/admin/faults", json=faults, timeout=30)
    assert r.status_code == 200, r.text
