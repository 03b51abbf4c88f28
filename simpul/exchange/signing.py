"""The hub's Ed25519 signing key, signed manifests, and verification of a delivery folder.

Every delivery carries ``manifest.json`` (files with SHA-256, row counts, schema, agreement,
purpose, legal basis, hub id, created_at) and ``manifest.sig`` (Ed25519 over the exact bytes of
``manifest.json``). Anyone holding the hub's public key can check that a delivery came from the
hub and was not changed: the evidence of what was sent to whom (non-repudiation, SPBE).

Key: ``SIMPUL_EXCHANGE_SIGNING_KEY`` (base64 of the 32-byte raw private key; under Airflow also
the password of the connection ``simpul_exchange_signing``) or ``SIMPUL_EXCHANGE_SIGNING_KEY_FILE``
(a file holding that base64 text or a PEM private key).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from simpul.digest import sha256_bytes, sha256_file
from simpul.exchange.errors import ExchangeConfigError, VerificationError

KEY_ENV = "SIMPUL_EXCHANGE_SIGNING_KEY"
KEY_FILE_ENV = "SIMPUL_EXCHANGE_SIGNING_KEY_FILE"
KEY_CONN_ID = "simpul_exchange_signing"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNED_FILES = frozenset({MANIFEST, SIGNATURE})

log = logging.getLogger(__name__)


def canonical_json(obj: Any) -> bytes:
    """The one byte form that is hashed and signed (sorted keys, UTF-8, no spaces)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _parse_private(text: bytes) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(text, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ExchangeConfigError(
                f"kunci penandatangan bukan Ed25519 / signing key file: not an Ed25519 key "
                f"(check {KEY_FILE_ENV})"
            )
        return key
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ExchangeConfigError(
            f"kunci penandatangan tidak sah / signing key: expected base64 of a 32-byte raw "
            f"Ed25519 key (check {KEY_ENV})"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_signing_key() -> Ed25519PrivateKey:
    """The hub's private key (connection, environment or key file); never logged."""
    from simpul.config import lookup_secret

    value = lookup_secret(KEY_CONN_ID, "password", KEY_ENV)
    if value:
        return _parse_private(value.encode())
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        try:
            return _parse_private(Path(path).read_bytes())
        except FileNotFoundError:
            raise ExchangeConfigError(
                f"{KEY_FILE_ENV}: berkas kunci tidak ditemukan / key file not found"
            ) from None
    raise ExchangeConfigError(
        f"no signing key: set {KEY_ENV} (base64 raw Ed25519 key) or {KEY_FILE_ENV} / "
        f"kunci penandatangan belum diisi"
    )


def generate_key_file(path: Path) -> Path:
    """Write a new base64 raw Ed25519 key (mode 0600) and its public key next to it."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(raw).decode() + "\n")
    path.with_suffix(".pub").write_text(public_key_b64(key.public_key()) + "\n")
    return path


def ensure_demo_key(home: Path) -> Path:
    """Demo only: point ``SIMPUL_EXCHANGE_SIGNING_KEY_FILE`` at a key in SIMPUL_HOME, creating
    it if missing (warned: production keys are issued and kept like any other secret)."""
    if os.environ.get(KEY_ENV) or os.environ.get(KEY_FILE_ENV):
        return Path(os.environ.get(KEY_FILE_ENV, ""))
    path = home / "keys" / "exchange_ed25519.key"
    if not path.exists():
        generate_key_file(path)
        log.warning("generated a demo exchange signing key in %s: not for production", path)
    os.environ[KEY_FILE_ENV] = str(path)
    return path


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(value: str | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """A public key from base64 raw bytes, PEM text, or a key object."""
    if isinstance(value, Ed25519PublicKey):
        return value
    data = value.encode() if isinstance(value, str) else value
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise VerificationError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(data, validate=True))


def key_id(key: Ed25519PublicKey) -> str:
    """Short fingerprint of a public key (first 16 hex of SHA-256 of its raw bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_bytes(raw)[:16]


def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, str]:
    """(manifest bytes, base64 signature) for ``manifest`` with the hub's key id filled in."""
    manifest = {**manifest, "signing_key_id": key_id(key.public_key())}
    data = canonical_json(manifest)
    return data, base64.b64encode(key.sign(data)).decode()


def verify_manifest_bytes(data: bytes, signature_b64: str, public_key: Any) -> dict[str, Any]:
    """Check the signature over the exact manifest bytes; returns the parsed manifest."""
    pub = load_public_key(public_key)
    try:
        pub.verify(base64.b64decode(signature_b64.strip(), validate=True), data)
    except (InvalidSignature, ValueError):
        raise VerificationError(
            "manifest signature invalid (changed manifest or wrong key) / tanda tangan tidak sah"
        ) from None
    return json.loads(data)


def verify(delivery_dir: Path | str, public_key: Any) -> dict[str, Any]:
    """Verify a delivery folder: signature, then every listed file's SHA-256 and size, and no
    unlisted files. Raises :class:`VerificationError`; returns the manifest when all is well."""
    d = Path(delivery_dir)
    try:
        data = (d / MANIFEST).read_bytes()
        sig = (d / SIGNATURE).read_text()
    except FileNotFoundError as exc:
        raise VerificationError(f"{d.name}: missing {Path(exc.filename).name}") from None
    manifest = verify_manifest_bytes(data, sig, public_key)
    listed = {f["name"] for f in manifest.get("files", [])}
    for f in manifest.get("files", []):
        path = d / f["name"]
        if Path(f["name"]).name != f["name"] or not path.is_file():
            raise VerificationError(f"{d.name}: file {f['name']!r} missing")
        if path.stat().st_size != f["bytes"] or sha256_file(path) != f["sha256"]:
            raise VerificationError(f"{d.name}: file {f['name']!r} changed (SHA-256 mismatch)")
    extra = sorted(p.name for p in d.iterdir() if p.name not in listed | SIGNED_FILES)
    if extra:  # files and subdirectories alike: nothing unsigned rides along
        raise VerificationError(
            f"{d.name}: berkas/folder tidak terdaftar / unlisted files or directories {extra}"
        )
    return manifest


# --------------------------------------------------------------------------- receipts


def sign_receipt(receipt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The agency's receipt with its Ed25519 signature (``signature``) over the canonical
    JSON of every other field, ``signing_key_id`` included: the hub can then prove the agency
    itself acknowledged the delivery, not whoever can write the drop folder."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    body["signing_key_id"] = key_id(key.public_key())
    return {**body, "signature": base64.b64encode(key.sign(canonical_json(body))).decode()}


def verify_receipt(receipt: dict[str, Any], public_key: Any) -> None:
    """Raise :class:`VerificationError` unless ``receipt`` is signed by ``public_key``."""
    sig = receipt.get("signature")
    if not isinstance(sig, str):
        raise VerificationError("tanda terima tidak ditandatangani / receipt is not signed")
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        load_public_key(public_key).verify(
            base64.b64decode(sig, validate=True), canonical_json(body)
        )
    except (InvalidSignature, ValueError):
        raise VerificationError(
            "tanda tangan tanda terima tidak sah (bukan kunci instansi) / receipt signature "
            "invalid (not the agency's registered key)"
        ) from None


def load_private_key_file(path: Path | str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a file (base64 raw or PEM), e.g. an agency's receipt key."""
    try:
        return _parse_private(Path(path).read_bytes())
    except FileNotFoundError:
        raise ExchangeConfigError(
            f"{path}: berkas kunci tidak ditemukan / key file not found"
        ) from None
