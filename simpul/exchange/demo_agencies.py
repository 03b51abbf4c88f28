"""Stand-in receiving agencies for the Airflow demo (`make simulate` + `make airflow`).

Two processes share one SIMPUL_HOME: the simulators play the agencies and hold their PRIVATE
receipt keys (``keys/agency_<agency>_ed25519.key``, owner-only, the same files ``simpul demo``
uses); the hub only gets the PUBLIC keys, through each agreement's ``receipt_key_env``
(``scripts/airflow-standalone.sh`` runs :func:`print_hub_env`). Whichever starts first makes the
keys; the other reads them. Not for production: there each agency makes and keeps its own key
(``simpul exchange keygen``) and sends the hub only the ``.pub`` file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def agency_key_path(home: Path, agency: str) -> Path:
    return home / "keys" / f"agency_{agency}_ed25519.key"


def ensure_agency_keys(home: Path, agreements: Any) -> dict[str, Path]:
    """One receipt key pair per agency with a ``receipt_key_env``, made once (race-safe:
    the file is created exclusively; a concurrent maker simply wins)."""
    from simpul.exchange.signing import generate_key_file
    from simpul.securefs import secure_dir

    secure_dir(home / "keys")
    paths: dict[str, Path] = {}
    for a in agreements.agreements.values():
        if not a.receipt_key_env or a.agency in paths:
            continue
        path = agency_key_path(home, a.agency)
        if not path.exists():
            try:
                generate_key_file(path)
            except FileExistsError:
                pass
        paths[a.agency] = path
    return paths


def hub_env(home: Path, agreements: Any) -> dict[str, str]:
    """``receipt_key_env`` -> the agency's PUBLIC key (read from the ``.pub`` file)."""
    import time

    paths = ensure_agency_keys(home, agreements)
    env: dict[str, str] = {}
    for a in agreements.agreements.values():
        if a.receipt_key_env and a.agency in paths:
            pub = paths[a.agency].with_suffix(".pub")
            for _ in range(50):  # the other process may be between the two writes
                if pub.exists() and pub.read_text().strip():
                    break
                time.sleep(0.1)
            env[a.receipt_key_env] = pub.read_text().strip()
    return env


def print_hub_env() -> None:
    """``export NAME=value`` lines for the shell (public keys only, never private)."""
    from simpul.config import home
    from simpul.exchange.agreements import load_agreements

    for name, value in hub_env(home(), load_agreements()).items():
        print(f"export {name}={value}")


def _folder_targets(agreements: Any) -> list[tuple[Path, str, bool]]:
    """(drop root, agency, partitioned per village) for every local folder channel."""
    from simpul.exchange.agreements import FolderChannel

    out = []
    for a in agreements.agreements.values():
        if isinstance(a.channel, FolderChannel) and "://" not in a.channel.resolved_url():
            partitioned = any(g.partition_by for g in a.datasets.values())
            out.append((Path(a.channel.resolved_url()), a.agency, partitioned))
    return out


class DropReceivers:
    """Dinas Sosial and the villages "reading their share": every ``interval`` seconds each
    new delivery in their drop folders is verified with the hub's public key and receipted
    with the agency's key (:func:`process_drop_folder`). Logs counts and ids only."""

    def __init__(self, hub_public_key: Any, home: Path, agreements: Any, interval: float = 10):
        from simpul.exchange.signing import load_private_key_file

        self.hub = hub_public_key
        self.targets = _folder_targets(agreements)
        keys = ensure_agency_keys(home, agreements)
        self.keys = {agency: load_private_key_file(p) for agency, p in keys.items()}
        self.interval = interval
        self.receipts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        for root, _, _ in self.targets:  # the agencies "mount" their shares; the hub never does
            root.mkdir(parents=True, exist_ok=True)

    @property
    def folders(self) -> list[Path]:
        return [root for root, _, _ in self.targets]

    def poll(self) -> int:
        """Process every drop folder once; returns how many receipts were written."""
        from simpul.exchange.receiver import process_drop_folder

        n = 0
        for root, agency, partitioned in self.targets:
            if not root.is_dir():
                continue
            if partitioned:
                folders = [
                    (sub, f"{agency}/{sub.name}")
                    for sub in sorted(p for p in root.iterdir() if p.is_dir())
                    if sub.name[0] not in "._"
                ]
            else:
                folders = [(root, agency)]
            for folder, addressee in folders:
                receipts = process_drop_folder(
                    folder,
                    self.hub,
                    f"{addressee.replace('/', '-')}-simulator",
                    addressee=addressee,
                    key=self.keys.get(agency),
                )
                for r in receipts:
                    print(f"  receipt {addressee}: {r['delivery_id']} {r['status']}", flush=True)
                n += len(receipts)
        self.receipts += n
        return n

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - keep serving; the hub sees the missing receipt
                log.warning("drop receiver: %s", type(exc).__name__)

    def start(self) -> DropReceivers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
