"""The Airflow demo's stand-in agencies: the hub process gets only the agencies' PUBLIC receipt
keys, the simulators the private ones (owner-only files in SIMPUL_HOME/keys), and a delivery
dropped into Dinas Sosial's folder comes back with a receipt the hub can verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    sha256_file,
    sign_manifest,
    verify_receipt,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIMPUL_HOME", str(tmp_path / "home"))
    for name in ("SIMPUL_EXCHANGE_DINSOS_DROP", "SIMPUL_EXCHANGE_DESA_DROP"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_hub_gets_public_keys_only_and_files_are_owner_only(home: Path):
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.demo_agencies import hub_env

    agreements = load_agreements()
    env = hub_env(home, agreements)
    assert set(env) == {
        "SIMPUL_EXCHANGE_DISDUKCAPIL_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DINSOS_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DESA_RECEIPT_KEY",
    }
    keys = home / "keys"
    assert keys.stat().st_mode & 0o077 == 0
    for agency in ("disdukcapil", "dinsos", "pemdes"):
        private = keys / f"agency_{agency}_ed25519.key"
        assert private.stat().st_mode & 0o077 == 0
        assert private.read_text().strip() not in env.values()
    # a second process reads the same keys instead of making new ones
    assert hub_env(home, agreements) == env


def test_drop_receiver_writes_a_receipt_signed_by_the_agency(home: Path):
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.demo_agencies import DropReceivers, hub_env

    agreements = load_agreements()
    hub = Ed25519PrivateKey.generate()
    drops = DropReceivers(hub.public_key(), home, agreements)
    dinsos = home / "exchange" / "dinsos"
    assert dinsos in drops.folders and dinsos.is_dir()

    d = dinsos / "dlv-0001"
    d.mkdir()
    (d / "data.csv").write_text("kode_desa,jumlah\n16.08.01.2001,3\n")
    manifest = {
        "delivery_id": "dlv-0001",
        "addressee": "dinsos",
        "files": [
            {
                "name": "data.csv",
                "sha256": sha256_file(d / "data.csv"),
                "bytes": (d / "data.csv").stat().st_size,
                "rows": 1,
            }
        ],
    }
    data, sig = sign_manifest(manifest, hub)
    (d / MANIFEST).write_bytes(data)
    (d / SIGNATURE).write_text(sig)

    assert drops.poll() == 1
    receipt = json.loads((dinsos / "_receipts" / "dlv-0001.json").read_text())
    assert receipt["status"] == "accepted"
    verify_receipt(receipt, hub_env(home, agreements)["SIMPUL_EXCHANGE_DINSOS_RECEIPT_KEY"])
    assert drops.poll() == 0  # receipted once
