"""Start the agency simulators as local uvicorn servers in background threads.

Demo credentials (it is a simulator; override with the environment variables):

- SIAK: ``SIMPUL_SIM_SIAK_CLIENT_ID`` / ``SIMPUL_SIM_SIAK_CLIENT_SECRET``
  (default ``simpul-demo`` / ``simpul-demo-secret``)
- OSS: ``SIMPUL_SIM_OSS_CLIENT_ID`` / ``SIMPUL_SIM_OSS_CLIENT_SECRET``
  (default ``simpul-oss-demo`` / ``simpul-oss-demo-secret``)

``SimulatorHandle.env()`` gives the variables the hub's connectors read (SIMPUL_SIAK_URL, ...).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from simpul.simulators.faults import FaultConfig

DEMO_CREDENTIALS = {
    "SIMPUL_SIM_SIAK_CLIENT_ID": "simpul-demo",
    "SIMPUL_SIM_SIAK_CLIENT_SECRET": "simpul-demo-secret",
    "SIMPUL_SIM_OSS_CLIENT_ID": "simpul-oss-demo",
    "SIMPUL_SIM_OSS_CLIENT_SECRET": "simpul-oss-demo-secret",
}
PORT_OFFSETS = {"siak": 0, "oss": 1}


def credential(name: str) -> str:
    """A simulator credential from the environment, else its documented demo default."""
    return os.environ.get(name) or DEMO_CREDENTIALS[name]


@dataclass
class SimulatorHandle:
    """A running simulator: ``url``, ``stop()``, and ``env()`` for the hub's connectors."""

    name: str
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    hub_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return dict(self.hub_env)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_app(
    app: FastAPI,
    name: str,
    host: str = "127.0.0.1",
    port: int = 0,
    hub_env: Callable[[str], dict[str, str]] | None = None,
) -> SimulatorHandle:
    """Run ``app`` with uvicorn in a daemon thread; returns once it accepts connections."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"sim-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"simulator {name} did not start on {host}:{port}")
        time.sleep(0.01)
    url = f"http://{host}:{port}"
    return SimulatorHandle(name, url, app, server, thread, hub_env(url) if hub_env else {})


def _siak(
    world_dir: Path, defect_rate: float, seed: int, faults: FaultConfig | None, admin: bool
) -> tuple[FastAPI, Callable[[str], dict[str, str]]]:
    from simpul.simulators.siak import create_app

    cid = credential("SIMPUL_SIM_SIAK_CLIENT_ID")
    secret = credential("SIMPUL_SIM_SIAK_CLIENT_SECRET")
    app = create_app(
        world_dir,
        client_id=cid,
        client_secret=secret,
        defect_rate=defect_rate,
        seed=seed,
        faults=faults,
        admin=admin,
    )
    return app, lambda url: {
        "SIMPUL_SIAK_URL": url,
        "SIMPUL_SIAK_CLIENT_ID": cid,
        "SIMPUL_SIAK_CLIENT_SECRET": secret,
    }


def _oss(
    world_dir: Path, defect_rate: float, seed: int, faults: FaultConfig | None, admin: bool
) -> tuple[FastAPI, Callable[[str], dict[str, str]]]:
    from simpul.simulators.oss import create_app

    cid = credential("SIMPUL_SIM_OSS_CLIENT_ID")
    secret = credential("SIMPUL_SIM_OSS_CLIENT_SECRET")
    app = create_app(
        world_dir,
        client_id=cid,
        client_secret=secret,
        defect_rate=defect_rate,
        seed=seed,
        faults=faults,
        admin=admin,
    )
    return app, lambda url: {
        "SIMPUL_OSS_URL": url,
        "SIMPUL_OSS_CLIENT_ID": cid,
        "SIMPUL_OSS_CLIENT_SECRET": secret,
    }


FACTORIES = {"siak": _siak, "oss": _oss}


def serve_all(
    world_dir: Path | str,
    host: str = "127.0.0.1",
    base_port: int = 8710,
    *,
    only: Iterable[str] | None = None,
    defect_rate: float = 0.0,
    seed: int = 42,
    faults: FaultConfig | dict[str, FaultConfig] | None = None,
    admin: bool = True,
) -> dict[str, SimulatorHandle]:
    """Start the selected simulators (all by default) on ``base_port + offset``.

    ``base_port=0`` picks free ports (tests). ``faults`` is one config for all, or per name.
    """
    names = list(only) if only else list(FACTORIES)
    unknown = set(names) - set(FACTORIES)
    if unknown:
        raise ValueError(f"unknown simulators: {sorted(unknown)}; known: {sorted(FACTORIES)}")
    handles: dict[str, SimulatorHandle] = {}
    try:
        for name in names:
            f = faults.get(name) if isinstance(faults, dict) else faults
            app, env = FACTORIES[name](Path(world_dir), defect_rate, seed, f, admin)
            port = base_port + PORT_OFFSETS[name] if base_port else 0
            handles[name] = serve_app(app, name, host, port, env)
    except Exception:
        for h in handles.values():
            h.stop()
        raise
    return handles
