"""The CKAN channel: publish a delivery to a Satu Data Indonesia portal, as a file resource
(updated in place) or as DataStore rows upserted by a key. Idempotent on the delivery id: the
resource carrying it is found before one is created."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from simpul.exchange.agreements import Agreement, CkanChannel
from simpul.exchange.errors import ChannelUnavailable
from simpul.exchange.outgoing import Outgoing, SendResult
from simpul.exchange.signing import canonical_json


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
    """The DataStore column type of an Arrow type (text unless it is a known one)."""
    import pyarrow as pa

    kinds = (
        (pa.types.is_integer, "int"),
        (pa.types.is_floating, "numeric"),
        (pa.types.is_boolean, "bool"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    )
    return next((name for is_kind, name in kinds if is_kind(t)), "text")


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
