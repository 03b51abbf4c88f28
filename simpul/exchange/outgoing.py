"""A delivery as every channel sees it (:class:`Outgoing`), what a channel returns
(:class:`SendResult`), and the checks every receipt must pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simpul.exchange.errors import ExchangeError
from simpul.exchange.signing import MANIFEST, SIGNATURE, sha256_bytes, verify_receipt


@dataclass
class SendResult:
    receipt: dict[str, Any] | None
    receipt_bytes: bytes | None = None
    detail: str = ""

    @property
    def receipt_sha256(self) -> str | None:
        return sha256_bytes(self.receipt_bytes) if self.receipt_bytes is not None else None


@dataclass
class Outgoing:
    """A delivery as the channels see it: its folder, manifest and identifiers."""

    delivery_id: str
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    part: str | None = None  # partitioned agreements: the recipient's own sub-folder

    @property
    def data_files(self) -> list[Path]:
        return [self.path / f["name"] for f in self.manifest["files"]]

    @property
    def all_files(self) -> list[Path]:
        return [*self.data_files, self.path / MANIFEST, self.path / SIGNATURE]


def check_receipt(out: Outgoing, receipt: Any, agency_key: Any = None) -> dict[str, Any]:
    """A receipt must be signed by the agency's registered key (when one is registered), echo
    our delivery id and manifest hash, and accept the delivery."""
    if not isinstance(receipt, dict):
        raise ExchangeError("receipt is not a JSON object")
    if agency_key is not None:
        verify_receipt(receipt, agency_key)  # VerificationError: forged or another agency's
    if receipt.get("delivery_id") != out.delivery_id:
        raise ExchangeError("receipt names another delivery")
    if receipt.get("manifest_sha256") != out.manifest_sha256:
        raise ExchangeError("receipt manifest hash differs: the receiver got something else")
    if receipt.get("status") not in ("accepted", "duplicate"):
        raise ExchangeError(f"receiver rejected the delivery: {receipt.get('reason', '?')}")
    return receipt
