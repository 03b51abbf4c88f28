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
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from simpul.exchange.agreements import Agreement, CkanChannel, FolderChannel, RestChannel
from simpul.exchange.errors import ChannelUnavailable, ExchangeConfigError, ExchangeError
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    canonical_json,
    sha256_bytes,
    verify_receipt,
)

RECEIPTS_DIR = "_receipts"


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


def ckan_package(channel: CkanChannel, agreement: Agreement, out: Outgoing) -> dict[str, Any]:
    """Satu Data Indonesia metadata for the package (title, producer, period, regions, licence)."""
    m = out.manifest
    meta = m.get("metadata", {})
    extras = {
        "produsen_data": agreement.producer or m.get("hub_id"),
        "walidata": agreement.agency_name,
        "periode": meta.get("periode") or "",
        "kode_wilayah": ",".join(meta.get("kode_wilayah") or []),
        "dasar_hukum": agreement.legal_basis,
        "tujuan": agreement.purpose,
        "sumber": f"Simpul {m.get('hub_id')}",
        "simpul_dataset": m["dataset"],
    }
    return {
        "name": channel.package_name,
        "title": m.get("title") or m["dataset"],
        "notes": m.get("description") or "",
        "owner_org": channel.owner_org,
        "license_id": channel.license_id,
        "tags": [{"name": t} for t in channel.tags],
        "extras": [{"key": k, "value": str(v)} for k, v in extras.items()],
    }


def _ckan_session(channel: CkanChannel) -> Any:
    """A requests session with connect and read timeouts on every call (ckanapi has none)
    and no redirects (the API key goes to the configured portal only)."""
    import requests

    class TimeoutSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if kwargs.get("timeout") is None:  # ckanapi passes timeout=None explicitly
                kwargs["timeout"] = channel.timeouts
            kwargs["allow_redirects"] = False
            return super().request(*args, **kwargs)

    return TimeoutSession()


def send_ckan(channel: CkanChannel, agreement: Agreement, out: Outgoing) -> SendResult:
    import ckanapi

    url = channel.resolved_url()
    ckan = ckanapi.RemoteCKAN(
        url, apikey=channel.token(), user_agent="simpul-exchange", session=_ckan_session(channel)
    )
    pkg_meta = ckan_package(channel, agreement, out)
    try:
        try:
            pkg = ckan.action.package_show(id=channel.package_name)
        except ckanapi.NotFound:
            pkg = ckan.action.package_create(**pkg_meta)
        else:
            patch = {k: v for k, v in pkg_meta.items() if k != "name"}
            pkg = ckan.action.package_patch(id=pkg["id"], **patch)
        resource = next(
            (
                r
                for r in pkg.get("resources") or []
                if r.get("simpul_delivery_id") == out.delivery_id
                or out.delivery_id in (r.get("name") or "")
            ),
            None,
        )
        detail = "resource already published (deduplicated)"
        if resource is None:
            resource = _ckan_publish(ckan, channel, pkg, out)
            detail = f"published to {urlparse(url).netloc}"
    except ckanapi.errors.CKANAPIError as exc:
        raise ChannelUnavailable(f"CKAN call failed: {type(exc).__name__}") from None
    except OSError as exc:  # connection refused, timeouts from requests
        raise ChannelUnavailable(
            f"portal CKAN tidak terjangkau / CKAN unreachable: {type(exc).__name__}"
        ) from None
    receipt = {
        "delivery_id": out.delivery_id,
        "manifest_sha256": out.manifest_sha256,
        "status": "accepted",
        "receiver": urlparse(url).netloc,
        "package_id": pkg.get("id"),
        "resource_id": resource.get("id"),
        "received_at": resource.get("created") or resource.get("last_modified"),
    }
    return SendResult(receipt, canonical_json(receipt), detail)


def _ckan_publish(ckan: Any, channel: CkanChannel, pkg: dict, out: Outgoing) -> dict[str, Any]:
    m = out.manifest
    data = out.data_files[0]
    name = f"{m.get('title') or m['dataset']} {m.get('metadata', {}).get('periode') or ''}"
    fields = {
        "package_id": pkg["id"],
        "name": " ".join(name.split()),
        "description": m.get("description") or "",
        "format": m["format"].upper(),
        "simpul_delivery_id": out.delivery_id,
        "manifest_sha256": out.manifest_sha256,
    }
    if channel.publish == "datastore":
        return _ckan_datastore(ckan, pkg, out, fields)
    # the dataset's resource is updated in place (a new version, ``last_modified``), so the
    # portal shows one current resource per dataset instead of one per delivery
    existing = next(
        (
            r
            for r in pkg.get("resources") or []
            if r.get("simpul_dataset") == m["dataset"] and r.get("url_type") != "datastore"
        ),
        None,
    )
    with open(data, "rb") as fh:
        if existing is not None:
            return ckan.action.resource_patch(id=existing["id"], upload=fh, **fields)
        return ckan.action.resource_create(upload=fh, simpul_dataset=m["dataset"], **fields)


DATASTORE_KEY = "_kunci"


def _json_value(v: Any) -> Any:
    from simpul.exchange.formats import neutralise

    return v.isoformat() if hasattr(v, "isoformat") else neutralise(v)


def _ckan_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "numeric"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return "text"


def _ckan_datastore(ckan: Any, pkg: dict, out: Outgoing, fields: dict[str, Any]) -> dict:
    """One DataStore table per package, upserted by a key of the dimension columns, so a
    repeated delivery rewrites the same rows; the resource notes the last delivery id."""
    import pyarrow.parquet as pq

    data = out.data_files[0]
    table = pq.read_table(data) if data.suffix == ".parquet" else _read_csv(data)
    measure = out.manifest.get("measure")
    dims = [c for c in table.column_names if c not in (measure, "disamarkan")]
    name = out.manifest["dataset"]
    existing = next(
        (r for r in pkg.get("resources") or [] if r.get("simpul_datastore") == name), None
    )
    if existing is None:
        created = ckan.action.datastore_create(
            resource={
                "package_id": pkg["id"],
                "name": f"{out.manifest['dataset']} (datastore)",
                "simpul_datastore": out.manifest["dataset"],
            },
            fields=[{"id": DATASTORE_KEY, "type": "text"}]
            + [{"id": f.name, "type": _ckan_type(f.type)} for f in table.schema],
            primary_key=[DATASTORE_KEY],
        )
        rid = created["resource_id"]
    else:
        rid = existing["id"]
    records = []
    for r in table.to_pylist():
        rec = {k: _json_value(v) for k, v in r.items()}
        rec[DATASTORE_KEY] = "|".join("" if r[c] is None else str(r[c]) for c in dims)
        records.append(rec)
    ckan.action.datastore_upsert(resource_id=rid, records=records, method="upsert", force=True)
    return ckan.action.resource_patch(
        id=rid,
        simpul_delivery_id=out.delivery_id,
        manifest_sha256=out.manifest_sha256,
        description=fields["description"],
    )


def _read_csv(path: Path) -> Any:
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path)


def send(agreement: Agreement, out: Outgoing) -> SendResult:
    """Send ``out`` through the agreement's channel."""
    ch = agreement.channel
    if isinstance(ch, FolderChannel):
        return send_folder(ch, out, agreement.agency_public_key())
    if isinstance(ch, RestChannel):
        return send_rest(ch, out, agreement.agency_public_key())
    return send_ckan(ch, agreement, out)
