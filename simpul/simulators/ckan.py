"""A CKAN Action API subset: the kabupaten Satu Data portal the hub publishes aggregates to.

Regional Satu Data portals mostly run CKAN, so the hub's exchange code talks to this exactly as
to a real portal (and is tested with the real ``ckanapi`` client). Served under both
``/api/3/action/<action>`` and ``/api/action/<action>`` (ckanapi uses the latter):

- ``status_show`` (GET, public): ckan_version, site_title, extensions.
- ``package_show``, ``package_list``, ``resource_show``, ``organization_show``,
  ``datastore_search`` (GET or POST, public).
- ``package_create``, ``package_patch``, ``resource_create`` (JSON, or multipart with an
  ``upload`` file), ``resource_patch``, ``organization_create``, ``datastore_create``,
  ``datastore_upsert`` (method upsert / insert / update, by the table's primary key),
  ``datastore_delete``: POST with header ``Authorization: <api token>``; 403 otherwise.

Envelopes are CKAN's: ``{"help", "success": true, "result"}``, or ``{"help", "success": false,
"error": {"__type": "Authorization Error" | "Validation Error" | "Not Found Error" | ...}}``
with 403 / 409 / 404 / 400. State is kept in memory and written to ``<store_dir>/ckan.json``
after every write (uploads under ``<store_dir>/uploads/``), and read back on start.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import UploadFile

from simpul.simulators.apps import add_admin_routes, simulator_app
from simpul.simulators.ckan_datastore import Actions
from simpul.simulators.ckan_store import CKAN_VERSION, CkanError, CkanStore
from simpul.simulators.faults import FaultConfig, FaultState

PUBLIC_ACTIONS = {
    "status_show",
    "package_show",
    "package_list",
    "resource_show",
    "organization_show",
    "datastore_search",
}
JSON_PARAMS = {"filters", "fields", "records", "resources", "tags", "extras", "primary_key"}
WRITE_ACTIONS = {
    "package_create",
    "package_patch",
    "resource_create",
    "resource_patch",
    "organization_create",
    "datastore_create",
    "datastore_upsert",
    "datastore_delete",
}


def _token(request: Request) -> str:
    h = request.headers.get("authorization") or request.headers.get("x-ckan-api-key") or ""
    return h[7:].strip() if h.lower().startswith("bearer ") else h.strip()


def create_app(
    store_dir: Path | str,
    *,
    api_token: str,
    faults: FaultConfig | None = None,
    admin: bool = False,
) -> FastAPI:
    """The CKAN simulator; ``api_token`` is the one token allowed to write."""
    store = CkanStore(Path(store_dir))
    fault_state = FaultState(faults)
    app = simulator_app("CKAN simulator (Satu Data portal)", fault_state, ckan=store)

    async def dispatch(request: Request, action: str) -> JSONResponse:
        return await _dispatch(store, api_token, request, action)

    for prefix in ("/api/3/action", "/api/action"):
        app.add_api_route(f"{prefix}/{{action}}", dispatch, methods=["GET", "POST"])
    _add_download_route(app, store)
    if admin:
        add_admin_routes(app, fault_state)
    return app


def _envelope(request: Request, action: str, status: int, **body: Any) -> JSONResponse:
    help_url = f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"
    return JSONResponse({"help": help_url, **body}, status_code=status)


def _decode_json_params(d: dict[str, Any]) -> dict[str, Any]:
    """Parameters that carry JSON (filters, records, ...) decoded; text that is not JSON kept."""
    for k in JSON_PARAMS & set(d):
        try:
            d[k] = json.loads(d[k])
        except ValueError:
            pass
    return d


async def _data_dict(request: Request) -> tuple[dict[str, Any], Any]:
    """The action's data dict (query, form or JSON body) and an uploaded file, if any."""
    if request.method == "GET":
        return _decode_json_params(dict(request.query_params)), None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        d: dict[str, Any] = {}
        upload = None
        for k, v in form.multi_items():
            if isinstance(v, UploadFile):
                upload = (v.filename, await v.read(), v.content_type)
            else:
                d[k] = v
        return _decode_json_params(d), upload
    raw = await request.body()
    if not raw.strip():
        return {}, None
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise CkanError(400, "Bad request", "Bad request - JSON Error: not an object")
    return body, None


async def _dispatch(
    store: CkanStore, api_token: str, request: Request, action: str
) -> JSONResponse:
    """Run one action in CKAN's envelope; writes need a POST with the API token."""
    actions = Actions(store, str(request.base_url).rstrip("/"))
    if action not in PUBLIC_ACTIONS | WRITE_ACTIONS:
        return _envelope(
            request,
            action,
            400,
            success=False,
            error={"__type": "Bad request", "message": f"Action name not known: {action}"},
        )
    try:
        if action in WRITE_ACTIONS:
            if request.method != "POST":
                raise CkanError(400, "Bad request", "Bad request - Action requires a POST")
            if not secrets.compare_digest(_token(request).encode(), api_token.encode()):
                raise CkanError(
                    403, "Authorization Error", f"Access denied: not authorized to {action}"
                )
        try:
            d, upload = await _data_dict(request)
        except ValueError:
            raise CkanError(400, "Bad request", "Bad request - JSON Error") from None
        fn = getattr(actions, action)
        with store.lock:
            if action in ("resource_create", "resource_patch"):
                result = fn(d, upload)
            else:
                result = fn(d)
            if action in WRITE_ACTIONS:
                store.save()
        return _envelope(request, action, 200, success=True, result=result)
    except CkanError as exc:
        return _envelope(request, action, exc.status, success=False, error=exc.body)


def _add_download_route(app: FastAPI, store: CkanStore) -> None:
    """Uploaded files, at the url CKAN gives them."""

    @app.get("/dataset/{package_id}/resource/{resource_id}/download/{filename}")
    def download(package_id: str, resource_id: str, filename: str) -> Any:
        path = store.dir / "uploads" / resource_id / filename
        if resource_id not in store.resources or not path.is_file():
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(path)


__all__ = ["CKAN_VERSION", "CkanStore", "create_app"]
