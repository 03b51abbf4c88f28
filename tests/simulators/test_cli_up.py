"""``simpul simulate up --disdukcapil-receiver`` (the compose ``demo`` profile's command): the
simulators and Disdukcapil's exchange endpoint listen on the given host and fixed ports, and a
delivery the hub signs and pushes with the printed URL and token comes back receipted."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simpul.simulators.runner import PORT_OFFSETS, free_port


def _base_port() -> int:
    for _ in range(50):
        base = free_port()
        if base + max(PORT_OFFSETS.values()) < 65000 and all(
            _free(base + off) for off in PORT_OFFSETS.values()
        ):
            return base
    pytest.skip("no block of free ports")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_simulate_up_serves_the_disdukcapil_receiver(world_dir: Path, tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from simpul.exchange.agreements import RestChannel
    from simpul.exchange.channels import Outgoing, send_rest
    from simpul.exchange.signing import (
        MANIFEST,
        SIGNATURE,
        sha256_bytes,
        sha256_file,
        sign_manifest,
    )

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    base = _base_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_SIM_")}
    env.update(SIMPUL_EXCHANGE_SIGNING_KEY=base64.b64encode(raw).decode(), PYTHONUNBUFFERED="1")
    env.pop("SIMPUL_EXCHANGE_SIGNING_KEY_FILE", None)
    cmd = [
        *(sys.executable, "-m", "simpul.cli"),
        *("simulate", "up", "--world", str(world_dir), "--home", str(tmp_path / "home")),
        *("--only", "siak", "--no-drops", "--host", "127.0.0.1", "--base-port", str(base)),
        "--disdukcapil-receiver",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    exported: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.match(r"\s+export (\w+)=(.*)$", line)
            if m:
                exported[m.group(1)] = m.group(2)
            if "SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN" in exported:
                break
        url = exported["SIMPUL_EXCHANGE_DISDUKCAPIL_URL"]
        assert url == f"http://127.0.0.1:{base + PORT_OFFSETS['disdukcapil']}/deliveries"
        assert exported["SIMPUL_SIAK_URL"] == f"http://127.0.0.1:{base + PORT_OFFSETS['siak']}"
        assert exported["SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN"] == "simpul-demo-disdukcapil-token"

        # a signed delivery, pushed the way the hub's REST channel does it
        d = tmp_path / "out" / "dlv-0001"
        d.mkdir(parents=True)
        (d / "data.csv").write_text("kode_desa,jumlah\n16.08.01.2001,3\n")
        manifest = {
            "delivery_id": "dlv-0001",
            "addressee": "disdukcapil",
            "files": [
                {
                    "name": "data.csv",
                    "sha256": sha256_file(d / "data.csv"),
                    "bytes": (d / "data.csv").stat().st_size,
                    "rows": 1,
                }
            ],
        }
        data, sig = sign_manifest(manifest, key)
        (d / MANIFEST).write_bytes(data)
        (d / SIGNATURE).write_text(sig)
        out = Outgoing("dlv-0001", d, {**manifest}, sha256_bytes(data))
        os.environ["TEST_DISDUKCAPIL_TOKEN"] = exported["SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN"]
        try:
            channel = RestChannel(type="rest", url=url, token_env="TEST_DISDUKCAPIL_TOKEN")
            result = send_rest(channel, out)
        finally:
            del os.environ["TEST_DISDUKCAPIL_TOKEN"]
        assert result.receipt["status"] == "accepted"
        assert result.receipt["receiver"] == "disdukcapil-simulator"
        # signed by Disdukcapil's demo key; the hub holds only its public half
        from simpul.exchange.signing import verify_receipt

        keys = tmp_path / "home" / "keys"
        assert (keys / "agency_disdukcapil_ed25519.key").stat().st_mode & 0o077 == 0
        verify_receipt(result.receipt, (keys / "agency_disdukcapil_ed25519.pub").read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
