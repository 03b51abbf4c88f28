"""Signed manifests: verify accepts the delivery and rejects any tampering or a wrong key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simpul.exchange.errors import VerificationError
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    ensure_demo_key,
    load_signing_key,
    public_key_b64,
    sha256_file,
    sign_manifest,
    verify,
)


def _delivery(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    d = tmp_path / "d1"
    d.mkdir()
    data = d / "data.csv"
    data.write_text("nik,jumlah\nx,1\n")
    manifest = {
        "delivery_id": "d1",
        "hub_id": "simpul-test",
        "files": [
            {
                "name": "data.csv",
                "sha256": sha256_file(data),
                "bytes": data.stat().st_size,
                "rows": 1,
            }
        ],
    }
    body, sig = sign_manifest(manifest, key)
    (d / MANIFEST).write_bytes(body)
    (d / SIGNATURE).write_text(sig)
    return d


def test_verify_accepts_untouched_delivery(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    d = _delivery(tmp_path, key)
    manifest = verify(d, public_key_b64(key.public_key()))
    assert manifest["delivery_id"] == "d1"


@pytest.mark.parametrize("tamper", ["data", "manifest", "wrong_key", "extra_file", "missing"])
def test_verify_rejects_tampering(tmp_path: Path, tamper: str) -> None:
    key = Ed25519PrivateKey.generate()
    d = _delivery(tmp_path, key)
    public = public_key_b64(key.public_key())
    if tamper == "data":
        (d / "data.csv").write_text("nik,jumlah\nx,2\n")  # same size, other content
    elif tamper == "manifest":
        m = json.loads((d / MANIFEST).read_bytes())
        m["files"][0]["rows"] = 2
        (d / MANIFEST).write_text(json.dumps(m))
    elif tamper == "wrong_key":
        public = public_key_b64(Ed25519PrivateKey.generate().public_key())
    elif tamper == "extra_file":
        (d / "smuggled.csv").write_text("x")
    else:
        (d / "data.csv").unlink()
    with pytest.raises(VerificationError):
        verify(d, public)


def test_demo_key_is_generated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY", raising=False)
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY_FILE", raising=False)
    path = ensure_demo_key(tmp_path)
    first = public_key_b64(load_signing_key().public_key())
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY_FILE")
    assert ensure_demo_key(tmp_path) == path
    assert public_key_b64(load_signing_key().public_key()) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
