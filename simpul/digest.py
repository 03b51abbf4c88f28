"""SHA-256 of files and bytes: the one implementation behind landing manifests, file ledgers
and signed exchange manifests (they must agree on a file's digest, byte for byte)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # read 1 MiB at a time: a large delivery never sits in memory whole


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_fileobj(fh: BinaryIO) -> str:
    """Hex SHA-256 of what is left to read in ``fh`` (a local or fsspec file)."""
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return sha256_fileobj(fh)
