"""A synthetic world served by the SIAK simulator for one test module (real HTTP on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simpul.synth import WorldConfig, generate_world


@contextmanager
def siak_served(
    world: Path, *, seed: int, population: int, defect_rate: float | None = None
) -> Iterator[dict]:
    """Generate the world into ``world`` and serve it; yields ``{"handle", "world"}``."""
    from simpul.simulators.runner import serve_all

    generate_world(WorldConfig(seed=seed, population=population)).write(world)
    extra = {} if defect_rate is None else {"defect_rate": defect_rate}
    servers = serve_all(world, base_port=0, only=["siak"], seed=seed, **extra)
    try:
        yield {"handle": servers["siak"], "world": world}
    finally:
        for s in servers.values():
            s.stop()
