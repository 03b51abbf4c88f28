"""The receiving side, small enough for an agency to run (and for the tests and the demo).

* :func:`process_drop_folder`: verifies each new delivery folder in a drop folder and writes
  its receipt to ``_receipts/<delivery_id>.json``;
* :class:`RestReceiver`: a local HTTP endpoint (stdlib server in a thread) that verifies a
  pushed delivery, stores it once per ``Idempotency-Key`` and answers with the receipt; it can
  be told to be "down" for the first N requests.

A receipt echoes the delivery id and the SHA-256 of the manifest bytes it verified, so the
hub's log proves the agency received exactly what was signed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simpul.exchange.channels import RECEIPTS_DIR
from simpul.exchange.errors import VerificationError
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    canonical_json,
    sha256_bytes,
    sign_receipt,
    verify,
)


def make_receipt(
    delivery_id: str, manifest_bytes: bytes, receiver: str, *, key: Any = None, **extra: Any
) -> dict:
    """A receipt; signed with the agency's own key when it has one (it should)."""
    receipt = {
        "delivery_id": delivery_id,
        "manifest_sha256": sha256_bytes(manifest_bytes),
        "receiver": receiver,
        "received_at": datetime.now(UTC).isoformat(),
        "status": "accepted",
        **extra,
    }
    return sign_receipt(receipt, key) if key is not None else receipt


SEEN = "_seen.txt"  # delivery ids this receiver has accepted (replays are refused)


def check_delivery(d: Path, public_key: Any, addressee: str | None, seen: set[str]) -> dict:
    """Everything an agency checks before trusting a delivery folder: the hub's signature and
    the files (:func:`verify`), that the folder is named by the signed ``delivery_id`` (an
    old delivery copied under a new name is refused), that it is addressed to this receiver
    and that this delivery id was not accepted before (a replay)."""
    manifest = verify(d, public_key)
    if manifest.get("delivery_id") != d.name:
        raise VerificationError(
            f"{d.name}: nama folder berbeda dari delivery_id bertanda tangan / folder name "
            "differs from the signed delivery_id (copied or renamed delivery)"
        )
    if addressee is not None:
        to = manifest.get("addressee") or manifest.get("agency")
        if to != addressee:
            raise VerificationError(
                f"{d.name}: kiriman untuk {to!r}, bukan untuk {addressee!r} / delivery is "
                f"addressed to {to!r}, not {addressee!r}"
            )
    if manifest["delivery_id"] in seen:
        raise VerificationError(
            f"{d.name}: delivery_id sudah pernah diterima (replay) / delivery id already "
            "received (replay)"
        )
    return manifest


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def process_drop_folder(
    root: Path,
    public_key: Any,
    receiver: str,
    *,
    addressee: str | None = None,
    key: Any = None,
) -> list[dict[str, Any]]:
    """Verify every delivery folder without a receipt and write one (accepted or rejected),
    signed with the agency's ``key``; ``addressee`` is who this folder belongs to (e.g.
    ``dinsos`` or ``pemdes/16.08.01.2001``)."""
    root = Path(root)
    ledger = root / RECEIPTS_DIR / SEEN
    seen = set(ledger.read_text().split()) if ledger.exists() else set()
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "._"):
        receipt_path = root / RECEIPTS_DIR / f"{d.name}.json"
        if receipt_path.exists():
            continue
        manifest_bytes = (d / MANIFEST).read_bytes() if (d / MANIFEST).exists() else b""
        try:
            manifest = check_delivery(d, public_key, addressee, seen)
            receipt = make_receipt(
                d.name,
                manifest_bytes,
                receiver,
                key=key,
                rows=sum(f["rows"] for f in manifest["files"] if "rows" in f),
            )
            seen.add(d.name)
            _write_atomic(ledger, "\n".join(sorted(seen)).encode() + b"\n")
        except VerificationError as exc:
            receipt = make_receipt(
                d.name, manifest_bytes, receiver, key=key, status="rejected", reason=str(exc)
            )
        _write_atomic(receipt_path, canonical_json(receipt))
        out.append(receipt)
    return out


class RestReceiver:
    """An agency endpoint for tests and the demo: ``url``, ``start()``, ``stop()``.

    ``fail_first``: answer 503 to that many requests first (an outage). Deliveries are
    deduplicated by ``Idempotency-Key``: a repeat gets the first receipt again, byte for byte.
    """

    def __init__(
        self,
        public_key: Any,
        *,
        token: str | None = None,
        fail_first: int = 0,
        name: str = "agency-receiver",
        store_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        addressee: str | None = None,
        key: Any = None,
    ) -> None:
        self.host = host
        self.port = port
        self.public_key = public_key
        self.addressee = addressee
        self.key = key
        self.token = token
        self.fail_first = fail_first
        self.name = name
        self.store_dir = store_dir
        self.requests = 0
        self.accepted: dict[str, bytes] = {}  # delivery id -> receipt bytes
        self.duplicates = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}/deliveries"

    def start(self) -> RestReceiver:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> RestReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, response body) for one POST."""
        with self.lock:
            self.requests += 1
            if self.fail_first > 0:
                self.fail_first -= 1
                return 503, b'{"error": "service unavailable"}'
            if self.token and headers.get("authorization") != f"Bearer {self.token}":
                return 401, b'{"error": "unauthorized"}'
            key = headers.get("idempotency-key") or ""
            try:
                env = json.loads(body)
                if env.get("delivery_id") != key:
                    return 400, b'{"error": "Idempotency-Key must be the delivery id"}'
                manifest_bytes = base64.b64decode(env["manifest"])
                signed_id = json.loads(manifest_bytes).get("delivery_id")
                if signed_id in self.accepted and signed_id == key:
                    self.duplicates += 1  # idempotent by the signed delivery id
                    return 200, self.accepted[signed_id]
                with tempfile.TemporaryDirectory() as tmp:
                    d = Path(tmp) / env["delivery_id"]
                    d.mkdir()
                    (d / MANIFEST).write_bytes(manifest_bytes)
                    (d / SIGNATURE).write_text(env["signature"])
                    for f in env["files"]:
                        if Path(f["name"]).name != f["name"]:
                            raise VerificationError("bad file name")
                        (d / f["name"]).write_bytes(base64.b64decode(f["content_base64"]))
                    check_delivery(d, self.public_key, self.addressee, set(self.accepted))
                    if self.store_dir is not None:
                        target = self.store_dir / env["delivery_id"]
                        if not target.exists():
                            target.parent.mkdir(parents=True, exist_ok=True)
                            shutil.move(str(d), target)
            except (VerificationError, KeyError, ValueError, TypeError, AttributeError) as exc:
                reason = str(exc) if isinstance(exc, VerificationError) else "malformed delivery"
                return 422, json.dumps({"error": reason}).encode()
            receipt = canonical_json(make_receipt(key, manifest_bytes, self.name, key=self.key))
            self.accepted[key] = receipt
            return 200, receipt

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = receiver.handle(headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # no request lines in logs

        return Handler
