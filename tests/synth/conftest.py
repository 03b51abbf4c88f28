from __future__ import annotations

from datetime import date

import pytest

from simpul.synth import World, WorldConfig, generate_world


@pytest.fixture(scope="session")
def small_world() -> World:
    return generate_world(WorldConfig(seed=7, population=3000, as_of=date(2026, 11, 1)))
