"""Delivery channels: a drop folder (fsspec), the agency's REST endpoint, a CKAN portal.

Every channel is idempotent on the delivery id, so a resend after an outage or a crash never
gives the agency the same delivery twice: the folder channel writes atomically and skips an
existing delivery folder, the REST push sends ``Idempotency-Key`` (the receiver dedupes), CKAN
finds the resource carrying the delivery id before creating one.

``send`` returns a :class:`SendResult`; ``receipt`` is None when the receipt comes later (the
folder channel: the receiving side writes ``_receipts/<delivery_id>.json``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from simpul.exchange.agreements import Agreement, FolderChannel, RestChannel
from simpul.exchange.ckan_channel import send_ckan
from simpul.exchange.errors import ChannelUnavailable, ExchangeConfigError, ExchangeError
from simpul.exchange.outgoing import Outgoing, SendResult, check_receipt
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
)

RECEIPTS_DIR = "_receipts"


# --------------------------------------------------------------------------- folder


def _fs(url: str) -> tuple[Any, str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


def _root(channel: FolderChannel, out: Outgoing) -> tuple[Any, str]:
    """The agency's drop root, which must already exist: a share that is not mounted must
    not be replaced by a folder on the hub's own disk (the delivery would go nowhere)."""
    url = channel.resolved_url()
    fs, root = _fs(url)
    try:
        exists = fs.isdir(root)
    except OSError as exc:
        raise ChannelUnavailable(
            f"folder tujuan tidak dapat dibaca ({type(exc).__name__}) / "
            f"drop folder not readable ({type(exc).__name__})"
        ) from None
    if not exists:
        raise ChannelUnavailable(
            "folder tujuan tidak ada (belum di-mount?); kiriman tetap di kotak keluar / "
            "drop folder does not exist (share not mounted?); delivery kept in the outbox"
        )
    if channel.mount_marker and not fs.exists(f"{root}/{channel.mount_marker}"):
        raise ChannelUnavailable(
            f"folder tujuan bukan share instansi (penanda {channel.mount_marker} tidak ada); "
            f"kiriman tetap di kotak keluar / drop folder is not the agency's share (marker "
            f"{channel.mount_marker} missing); delivery kept in the outbox"
        )
    if out.part:
        root = f"{root}/{out.part}"
    return fs, root


def folder_receipt(
    channel: FolderChannel, out: Outgoing, agency_key: Any = None
) -> SendResult | None:
    """The receiving side's receipt for a delivery, once it has written one."""
    fs, root = _root(channel, out)
    path = f"{root}/{RECEIPTS_DIR}/{out.delivery_id}.json"
    if not fs.exists(path):
        return None
    data = fs.cat_file(path)
    receipt = check_receipt(out, json.loads(data), agency_key)
    return SendResult(receipt, data, "receipt collected")


def send_folder(channel: FolderChannel, out: Outgoing, agency_key: Any = None) -> SendResult:
    """Copy into ``.tmp-<id>`` then rename to ``<id>``: the agency never sees half a delivery;
    an existing ``<id>`` folder means it was delivered already (resend after a crash)."""
    fs, root = _root(channel, out)
    final = f"{root}/{out.delivery_id}"
    try:
        if fs.exists(final):
            return folder_receipt(channel, out, agency_key) or SendResult(
                None, None, "already in drop folder"
            )
        tmp = f"{root}/.tmp-{out.delivery_id}"
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        fs.makedirs(tmp, exist_ok=True)
        for f in out.all_files:
            fs.put_file(str(f), f"{tmp}/{f.name}")
        fs.mv(tmp, final, recursive=True)
    except OSError as exc:
        raise ChannelUnavailable(
            f"gagal menulis ke folder tujuan ({type(exc).__name__}) / "
            f"could not write to the drop folder ({type(exc).__name__})"
        ) from None
    return SendResult(None, None, "written to drop folder; waiting for receipt")


# --------------------------------------------------------------------------- REST


def rest_envelope(out: Outgoing) -> dict[str, Any]:
    """The JSON body: manifest bytes and files base64-encoded, so the signature stays checkable."""
    return {
        "delivery_id": out.delivery_id,
        "manifest": base64.b64encode((out.path / MANIFEST).read_bytes()).decode(),
        "signature": (out.path / SIGNATURE).read_text().strip(),
        "files": [
            {"name": f.name, "content_base64": base64.b64encode(f.read_bytes()).decode()}
            for f in out.data_files
        ],
    }


def send_rest(channel: RestChannel, out: Outgoing, agency_key: Any = None) -> SendResult:
    import requests

    headers = {
        "Idempotency-Key": out.delivery_id,
        "Content-Type": "application/json",
        "User-Agent": "simpul-exchange",
    }
    token = channel.token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = requests.post(
            channel.resolved_url(),
            data=json.dumps(rest_envelope(out)).encode(),
            headers=headers,
            timeout=channel.timeouts,
            allow_redirects=False,  # the token goes to the configured origin only
        )
    except requests.RequestException as exc:
        raise ChannelUnavailable(
            f"penerima tidak terjangkau / REST push failed: {type(exc).__name__}"
        ) from None
    if resp.status_code in (401, 403) and channel.token_env:
        raise ExchangeConfigError(
            f"token ditolak penerima (HTTP {resp.status_code}): periksa {channel.token_env} / "
            f"token refused by the receiver: check {channel.token_env}"
        )
    if resp.status_code >= 300:
        raise ChannelUnavailable(
            f"kiriman ditolak sementara / REST push refused: HTTP {resp.status_code}"
        )
    try:
        receipt = resp.json()
    except ValueError:
        raise ExchangeError("REST receipt is not JSON") from None
    check_receipt(out, receipt, agency_key)
    return SendResult(receipt, resp.content, f"HTTP {resp.status_code}")


# --------------------------------------------------------------------------- CKAN


def send(agreement: Agreement, out: Outgoing) -> SendResult:
    """Send ``out`` through the agreement's channel."""
    ch = agreement.channel
    if isinstance(ch, FolderChannel):
        return send_folder(ch, out, agreement.agency_public_key())
    if isinstance(ch, RestChannel):
        return send_rest(ch, out, agreement.agency_public_key())
    return send_ckan(ch, agreement, out)
