from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simpul.synth import WorldConfig, generate_world

CID, SECRET = "test-client", "test-secret"


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(seed=5, population=2500)).write(d)
    return d


@pytest.fixture
def fresh_world(tmp_path: Path, world_dir: Path) -> Iterator[Path]:
    """A private copy for tests that mutate (advance time, ground-truth files)."""
    import shutil

    d = tmp_path / "world"
    shutil.copytree(world_dir, d)
    yield d
