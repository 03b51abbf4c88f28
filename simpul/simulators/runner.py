"""Start the agency simulators as local uvicorn servers in background threads.

Demo credentials (it is a simulator; override with the environment variables):

- SIAK: ``SIMPUL_SIM_SIAK_CLIENT_ID`` / ``SIMPUL_SIM_SIAK_CLIENT_SECRET``
  (default ``simpul-demo`` / ``simpul-demo-secret``)
- OSS: ``SIMPUL_SIM_OSS_CLIENT_ID`` / ``SIMPUL_SIM_OSS_CLIENT_SECRET``
  (default ``simpul-oss-demo`` / ``simpul-oss-demo-secret``)
- OpenDK push receiver: ``SIMPUL_SIM_OPENDK_TOKEN`` (default ``simpul-opendk-demo-token``)
- CKAN portal: ``SIMPUL_SIM_CKAN_TOKEN`` (default ``simpul-ckan-demo-token``)
- Disdukcapil exchange receiver: ``SIMPUL_SIM_DISDUKCAPIL_TOKEN``
  (default ``simpul-demo-disdukcapil-token``)

``SimulatorHandle.env()`` gives the variables the hub's connectors read (SIMPUL_SIAK_URL, ...).
File drops (OpenSID workbooks, Dinas Sosial CSV) are written by ``prepare_drops`` into
``<SIMPUL_HOME>/drops/{opensid,dinsos}/``; the OpenDK receiver stores pushed ZIPs into the same
``drops/opensid`` folder, where the hub's OpenSID connector reads both. CKAN keeps its state in
``<SIMPUL_HOME>/simulators/ckan/ckan.json``.
"""

from __future__ import annotations

import importlib
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
    "SIMPUL_SIM_OPENDK_TOKEN": "simpul-opendk-demo-token",
    "SIMPUL_SIM_CKAN_TOKEN": "simpul-ckan-demo-token",
    "SIMPUL_SIM_DISDUKCAPIL_TOKEN": "simpul-demo-disdukcapil-token",
}
# disdukcapil: the exchange receiver of `simulate up --disdukcapil-receiver` (not a FACTORY)
PORT_OFFSETS = {"siak": 0, "oss": 1, "opendk": 2, "ckan": 3, "disdukcapil": 4}


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


def drop_dirs(home_dir: Path | str) -> dict[str, Path]:
    """Where the file drops live under SIMPUL_HOME (the simpul.yaml defaults point here)."""
    base = Path(home_dir) / "drops"
    return {"opensid": base / "opensid", "dinsos": base / "dinsos"}


@dataclass
class DropSet:
    """Files written by ``prepare_drops``; ``env()`` tells the hub where they are."""

    opensid_dir: Path
    dinsos_dir: Path
    opensid_files: list[Path]
    dinsos_file: Path
    paten_db: Path | None = None
    siak_export_file: Path | None = None

    def env(self) -> dict[str, str]:
        env = {
            "SIMPUL_OPENSID_DROP": str(self.opensid_dir),
            "SIMPUL_DINSOS_DROP": str(self.dinsos_dir),
        }
        if self.paten_db:
            env["SIMPUL_PATEN_DB_URL"] = f"sqlite:///{self.paten_db}"
        if self.siak_export_file:
            env["SIMPUL_SIAK_EXPORT_DROP"] = str(self.siak_export_file.parent)
        return env


def siak_export_path(home_dir: Path | str) -> Path:
    """Disdukcapil's export workbook as handed to the kecamatan (simpul.yaml: drops/siak_export;
    the default world is Martapura, hence the name the demo has always used)."""
    return Path(home_dir) / "drops" / "siak_export" / "siak_export_martapura.xlsx"


def prepare_drops(
    world_dir: Path | str,
    home_dir: Path | str,
    defect_rate: float = 0.0,
    seed: int = 42,
    *,
    kecamatan: str | None = None,
    siak_export: bool = False,
) -> DropSet:
    """Write the village workbooks, the Dinas Sosial CSV, the PATEN database and, with
    ``siak_export``, SIAK's export workbook (without it the siak_export_penduduk pipeline of a
    running hub finds nothing); ground truth goes next to the world."""
    from simpul.simulators.dinsos import write_dinsos_drop
    from simpul.simulators.opensid import write_opensid_drops

    dirs = drop_dirs(home_dir)
    files = write_opensid_drops(
        world_dir, dirs["opensid"], defect_rate=defect_rate, seed=seed, kecamatan=kecamatan
    )
    csv_file = write_dinsos_drop(
        world_dir, dirs["dinsos"], defect_rate=defect_rate, seed=seed, kecamatan=kecamatan
    )
    from simpul.simulators.paten import write_paten_db

    paten = write_paten_db(world_dir, Path(home_dir) / "drops" / "paten" / "paten.sqlite")
    export = None
    if siak_export:
        from simpul.simulators.siak_export import write_siak_export

        export = write_siak_export(
            world_dir,
            siak_export_path(home_dir),
            defect_rate=defect_rate,
            seed=seed,
            kecamatan=kecamatan,
        )
    return DropSet(dirs["opensid"], dirs["dinsos"], files, csv_file, paten, export)


@dataclass(frozen=True)
class ServeRequest:
    """What every simulator factory is given: the world, the data folder and the options."""

    world_dir: Path
    home: Path
    defect_rate: float
    seed: int
    faults: FaultConfig | None
    admin: bool


EnvFor = Callable[[str], dict[str, str]]
Factory = Callable[[ServeRequest], tuple[FastAPI, EnvFor]]


def _client_credentials_api(system: str) -> Factory:
    """SIAK and OSS: an API behind a client-credentials token, serving the synthetic world."""

    def factory(req: ServeRequest) -> tuple[FastAPI, EnvFor]:
        create_app = importlib.import_module(f"simpul.simulators.{system}").create_app
        prefix = f"SIMPUL_{system.upper()}"
        cid = credential(f"SIMPUL_SIM_{system.upper()}_CLIENT_ID")
        secret = credential(f"SIMPUL_SIM_{system.upper()}_CLIENT_SECRET")
        app = create_app(
            req.world_dir,
            client_id=cid,
            client_secret=secret,
            defect_rate=req.defect_rate,
            seed=req.seed,
            faults=req.faults,
            admin=req.admin,
        )
        return app, lambda url: {
            f"{prefix}_URL": url,
            f"{prefix}_CLIENT_ID": cid,
            f"{prefix}_CLIENT_SECRET": secret,
        }

    return factory


def _opendk(req: ServeRequest) -> tuple[FastAPI, EnvFor]:
    from simpul.simulators.opendk import create_opendk_app

    token = credential("SIMPUL_SIM_OPENDK_TOKEN")
    drop = drop_dirs(req.home)["opensid"]
    app = create_opendk_app(drop, token=token, faults=req.faults, admin=req.admin)
    return app, lambda url: {
        "SIMPUL_OPENDK_URL": url,
        "SIMPUL_OPENDK_TOKEN": token,
        "SIMPUL_OPENSID_DROP": str(drop),
    }


def _ckan(req: ServeRequest) -> tuple[FastAPI, EnvFor]:
    from simpul.simulators.ckan import create_app

    token = credential("SIMPUL_SIM_CKAN_TOKEN")
    app = create_app(
        req.home / "simulators" / "ckan", api_token=token, faults=req.faults, admin=req.admin
    )
    return app, lambda url: {"SIMPUL_CKAN_URL": url, "SIMPUL_CKAN_TOKEN": token}


FACTORIES: dict[str, Factory] = {
    "siak": _client_credentials_api("siak"),
    "oss": _client_credentials_api("oss"),
    "opendk": _opendk,
    "ckan": _ckan,
}


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
    home_dir: Path | str | None = None,
) -> dict[str, SimulatorHandle]:
    """Start the selected simulators (all by default) on ``base_port + offset``.

    ``base_port=0`` picks free ports (tests). ``faults`` is one config for all, or per name.
    ``home_dir`` (default SIMPUL_HOME) holds the OpenDK drop folder and the CKAN store; file
    drops are not written here: call ``prepare_drops`` (the demo and ``simulate up`` do).
    """
    if home_dir is None:
        from simpul.config import home

        home_dir = home()
    names = list(only) if only else list(FACTORIES)
    unknown = set(names) - set(FACTORIES)
    if unknown:
        raise ValueError(f"unknown simulators: {sorted(unknown)}; known: {sorted(FACTORIES)}")
    handles: dict[str, SimulatorHandle] = {}
    try:
        for name in names:
            f = faults.get(name) if isinstance(faults, dict) else faults
            req = ServeRequest(Path(world_dir), Path(home_dir), defect_rate, seed, f, admin)
            app, env = FACTORIES[name](req)
            port = base_port + PORT_OFFSETS[name] if base_port else 0
            handles[name] = serve_app(app, name, host, port, env)
    except Exception:
        for h in handles.values():
            h.stop()
        raise
    return handles
