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
import re
import secrets
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from simpul.simulators.faults import FaultConfig, FaultMiddleware, FaultState
from simpul.simulators.filedrop import write_atomic

CKAN_VERSION = "2.10.4"
NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
PUBLIC_ACTIONS = {
    "status_show",
    "package_show",
    "package_list",
    "resource_show",
    "organization_show",
    "datastore_search",
}
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
JSON_PARAMS = {"filters", "fields", "records", "resources", "tags", "extras", "primary_key"}
INT_TYPES = {"int", "int4", "int8", "integer", "bigint", "smallint"}
NUM_TYPES = {"numeric", "float", "float8", "double", "real"}


class CkanError(Exception):
    """An action failure, rendered as CKAN's error envelope."""

    def __init__(self, status: int, etype: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"__type": etype, "message": message, **details}


def not_found(what: str) -> CkanError:
    return CkanError(404, "Not Found Error", f"Not found: {what}")


def invalid(**errors: list[str]) -> CkanError:
    return CkanError(409, "Validation Error", "Validation error", **errors)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class CkanStore:
    """Packages, resources, organizations and datastore tables; persisted as one JSON file."""

    def __init__(self, store_dir: Path) -> None:
        self.dir = store_dir
        self.path = store_dir / "ckan.json"
        self.lock = threading.RLock()
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.packages: dict[str, dict] = data.get("packages", {})
        self.resources: dict[str, dict] = data.get("resources", {})
        self.organizations: dict[str, dict] = data.get("organizations", {})
        self.datastore: dict[str, dict] = data.get("datastore", {})

    def save(self) -> None:
        body = {
            "ckan_version": CKAN_VERSION,
            "packages": self.packages,
            "resources": self.resources,
            "organizations": self.organizations,
            "datastore": self.datastore,
        }
        write_atomic(self.path, json.dumps(body, indent=1, sort_keys=True).encode())

    # -- lookups ----------------------------------------------------------------------------
    def package(self, ref: Any) -> dict:
        if not ref:
            raise invalid(id=["Missing value"])
        if ref in self.packages:
            return self.packages[ref]
        for p in self.packages.values():
            if p["name"] == ref:
                return p
        raise not_found("Dataset")

    def resource(self, ref: Any) -> dict:
        if not ref:
            raise invalid(id=["Missing value"])
        if ref not in self.resources:
            raise not_found("Resource")
        return self.resources[ref]

    def full_package(self, pkg: dict) -> dict:
        res = [self.resources[r] for r in pkg["resource_ids"] if r in self.resources]
        out = {k: v for k, v in pkg.items() if k != "resource_ids"}
        out["resources"] = res
        out["num_resources"] = len(res)
        out["num_tags"] = len(out.get("tags", []))
        return out


def _tags(value: Any) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    out = []
    for t in value:
        name = t.get("name") if isinstance(t, dict) else str(t)
        out.append({"name": name, "display_name": name, "state": "active"})
    return out


class Actions:
    """The action functions; each takes the request's data dict and returns the result."""

    def __init__(self, store: CkanStore, base_url: str) -> None:
        self.s = store
        self.base_url = base_url

    # -- site -------------------------------------------------------------------------------
    def status_show(self, d: dict) -> dict:
        return {
            "ckan_version": CKAN_VERSION,
            "site_title": "Satu Data Kabupaten OKU Timur (simulator)",
            "site_description": "Simpul CKAN simulator",
            "site_url": self.base_url,
            "locale_default": "id",
            "error_emails_to": None,
            "extensions": ["datastore", "activity"],
        }

    # -- organizations --------------------------------------------------------------------
    def organization_create(self, d: dict) -> dict:
        name = d.get("name")
        if not name or not NAME_RE.match(str(name)):
            raise invalid(name=["Must be purely lowercase alphanumeric (ascii) characters"])
        if any(o["name"] == name for o in self.s.organizations.values()):
            raise invalid(name=["Group name already exists in database"])
        org = {
            "id": str(uuid.uuid4()),
            "name": name,
            "title": d.get("title") or name,
            "description": d.get("description") or "",
            "type": "organization",
            "is_organization": True,
            "state": "active",
            "created": _now(),
        }
        self.s.organizations[org["id"]] = org
        return org

    def organization_show(self, d: dict) -> dict:
        ref = d.get("id")
        for o in self.s.organizations.values():
            if ref in (o["id"], o["name"]):
                return o
        raise not_found("Organization")

    def _org_id(self, ref: Any) -> str | None:
        if not ref:
            return None
        for o in self.s.organizations.values():
            if ref in (o["id"], o["name"]):
                return o["id"]
        if self.s.organizations:
            raise invalid(owner_org=["Organization does not exist"])
        return str(ref)  # no organizations registered: accept what the client names

    # -- packages ---------------------------------------------------------------------------
    def package_list(self, d: dict) -> list[str]:
        return sorted(p["name"] for p in self.s.packages.values())

    def package_show(self, d: dict) -> dict:
        return self.s.full_package(self.s.package(d.get("id") or d.get("name")))

    def package_create(self, d: dict) -> dict:
        name = d.get("name")
        if not name or not NAME_RE.match(str(name)):
            raise invalid(
                name=["Must be purely lowercase alphanumeric (ascii) characters and these: -_"]
            )
        if any(p["name"] == name for p in self.s.packages.values()):
            raise invalid(name=["That URL is already in use."])
        now = _now()
        extra = {k: v for k, v in d.items() if k not in ("resources", "tags", "id")}
        pkg = {
            **extra,
            "id": str(uuid.uuid4()),
            "name": name,
            "title": d.get("title") or name,
            "notes": d.get("notes") or "",
            "owner_org": self._org_id(d.get("owner_org")),
            "private": bool(d.get("private", False)),
            "state": "active",
            "type": "dataset",
            "tags": _tags(d.get("tags")),
            "extras": d.get("extras") or [],
            "metadata_created": now,
            "metadata_modified": now,
            "resource_ids": [],
        }
        self.s.packages[pkg["id"]] = pkg
        for r in d.get("resources") or []:
            self._new_resource(pkg, dict(r), None)
        return self.s.full_package(pkg)

    def package_patch(self, d: dict) -> dict:
        pkg = self.s.package(d.get("id") or d.get("name"))
        if "name" in d and d["name"] != pkg["name"]:
            if not NAME_RE.match(str(d["name"])) or any(
                p["name"] == d["name"] for p in self.s.packages.values()
            ):
                raise invalid(name=["That URL is already in use."])
        for k, v in d.items():
            if k in ("id", "resources", "metadata_created", "resource_ids"):
                continue
            pkg[k] = _tags(v) if k == "tags" else v
        if "owner_org" in d:
            pkg["owner_org"] = self._org_id(d["owner_org"])
        if "resources" in d:
            for rid in pkg["resource_ids"]:
                self.s.resources.pop(rid, None)
            pkg["resource_ids"] = []
            for r in d["resources"] or []:
                self._new_resource(pkg, dict(r), None)
        pkg["metadata_modified"] = _now()
        return self.s.full_package(pkg)

    # -- resources ------------------------------------------------------------------------------
    def _new_resource(self, pkg: dict, d: dict, upload: Any) -> dict:
        now = _now()
        rid = str(d.get("id") or uuid.uuid4())
        res = {
            **{k: v for k, v in d.items() if k not in ("upload", "package_id")},
            "id": rid,
            "package_id": pkg["id"],
            "name": d.get("name") or "",
            "description": d.get("description") or "",
            "format": d.get("format") or "",
            "url": d.get("url") or "",
            "url_type": d.get("url_type"),
            "state": "active",
            "created": now,
            "last_modified": None,
            "datastore_active": False,
            "position": len(pkg["resource_ids"]),
        }
        if upload is not None:
            fname = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload[0] or "upload").name)
            dest = self.s.dir / "uploads" / rid / fname
            write_atomic(dest, upload[1])
            res.update(
                url=f"{self.base_url}/dataset/{pkg['id']}/resource/{rid}/download/{fname}",
                url_type="upload",
                size=len(upload[1]),
                mimetype=upload[2],
                last_modified=now,
            )
            if not res["format"] and "." in fname:
                res["format"] = fname.rsplit(".", 1)[1].upper()
        self.s.resources[rid] = res
        pkg["resource_ids"].append(rid)
        pkg["metadata_modified"] = now
        return res

    def resource_create(self, d: dict, upload: Any = None) -> dict:
        pkg = self.s.package(d.get("package_id"))
        if upload is None and not d.get("url") and d.get("url_type") != "datastore":
            d.setdefault("url", "")
        return self._new_resource(pkg, d, upload)

    def resource_show(self, d: dict) -> dict:
        return self.s.resource(d.get("id"))

    def resource_patch(self, d: dict, upload: Any = None) -> dict:
        res = self.s.resource(d.get("id"))
        for k, v in d.items():
            if k not in ("id", "package_id", "created", "upload"):
                res[k] = v
        res["last_modified"] = _now()
        if upload is not None:
            pkg = self.s.package(res["package_id"])
            fname = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload[0] or "upload").name)
            write_atomic(self.s.dir / "uploads" / res["id"] / fname, upload[1])
            res.update(
                url=f"{self.base_url}/dataset/{pkg['id']}/resource/{res['id']}/download/{fname}",
                url_type="upload",
                size=len(upload[1]),
            )
        return res

    # -- datastore ------------------------------------------------------------------------------
    def datastore_create(self, d: dict) -> dict:
        if d.get("resource") and not d.get("resource_id"):
            pkg = self.s.package(d["resource"].get("package_id"))
            res = self._new_resource(pkg, {**d["resource"], "url_type": "datastore"}, None)
        else:
            res = self.s.resource(d.get("resource_id"))
        rid = res["id"]
        fields = [dict(f) for f in d.get("fields") or []]
        if any("id" not in f for f in fields):
            raise invalid(fields=["every field needs an 'id'"])
        pk = d.get("primary_key") or []
        pk = [p.strip() for p in pk.split(",")] if isinstance(pk, str) else list(pk)
        table = self.s.datastore.get(rid)
        if table is None:
            table = {"fields": [], "primary_key": pk, "records": [], "next_id": 1}
            self.s.datastore[rid] = table
        known = {f["id"] for f in table["fields"]}
        for f in fields:
            if f["id"] not in known:
                table["fields"].append({"id": f["id"], "type": f.get("type") or "text"})
        if pk:
            table["primary_key"] = pk
        names = {f["id"] for f in table["fields"]}
        if not set(table["primary_key"]) <= names:
            raise invalid(primary_key=["primary key fields must be among the fields"])
        res["datastore_active"] = True
        if d.get("records"):
            self._write(table, d["records"], "insert" if not table["primary_key"] else "upsert")
        return {
            "resource_id": rid,
            "fields": table["fields"],
            "primary_key": table["primary_key"],
            "method": "insert",
        }

    def _coerce(self, table: dict, rec: dict) -> dict:
        types = {f["id"]: f["type"] for f in table["fields"]}
        unknown = sorted(set(rec) - set(types) - {"_id"})
        if unknown:
            raise invalid(fields=[f'fields "{", ".join(unknown)}" do not exist'])
        out = {}
        for k, v in rec.items():
            if k == "_id":
                continue
            t = types[k]
            try:
                if v is None or v == "":
                    out[k] = None
                elif t in INT_TYPES:
                    out[k] = int(v)
                elif t in NUM_TYPES:
                    out[k] = float(v)
                else:
                    out[k] = v
            except (TypeError, ValueError):
                raise invalid(records=[f"invalid input for {t} field {k!r}"]) from None
        return out

    def _write(self, table: dict, records: list[dict], method: str) -> None:
        pk = table["primary_key"]
        if method in ("upsert", "update") and not pk:
            raise invalid(records=["table does not have a unique key defined"])
        index = {tuple(r.get(k) for k in pk): i for i, r in enumerate(table["records"])}
        staged = list(table["records"])
        next_id = table["next_id"]
        for raw in records:
            if not isinstance(raw, dict):
                raise invalid(records=["records must be objects"])
            rec = self._coerce(table, raw)
            key = tuple(rec.get(k) for k in pk)
            if pk and any(v is None for v in key):
                raise invalid(records=[f"fields {', '.join(pk)} are missing but needed as key"])
            at = index.get(key) if pk else None
            if method == "insert":
                if at is not None:
                    raise invalid(records=["duplicate key value violates unique constraint"])
            elif method == "update" and at is None:
                raise invalid(records=[f"key {list(key)} not found"])
            if at is None:
                staged.append({"_id": next_id, **rec})
                next_id += 1
                if pk:
                    index[key] = len(staged) - 1
            else:
                staged[at] = {**staged[at], **rec}
        table["records"] = staged  # all or nothing, as in one database transaction
        table["next_id"] = next_id

    def datastore_upsert(self, d: dict) -> dict:
        rid = d.get("resource_id")
        if rid not in self.s.datastore:
            raise not_found(f'Resource "{rid}" was not found.')
        method = d.get("method") or "upsert"
        if method not in ("upsert", "insert", "update"):
            raise invalid(method=['"method" must be one of upsert, insert, update'])
        records = d.get("records") or []
        if not isinstance(records, list):
            raise invalid(records=["records must be a list"])
        self._write(self.s.datastore[rid], records, method)
        self.s.resources[rid]["last_modified"] = _now()
        return {"resource_id": rid, "method": method, "records": records}

    def datastore_delete(self, d: dict) -> dict:
        rid = d.get("resource_id")
        if rid not in self.s.datastore:
            raise not_found(f'Resource "{rid}" was not found.')
        filters = d.get("filters")
        table = self.s.datastore[rid]
        if filters:
            table["records"] = [r for r in table["records"] if not _matches(r, filters)]
        else:
            del self.s.datastore[rid]
            self.s.resources[rid]["datastore_active"] = False
        return {"resource_id": rid, "filters": filters or {}}

    def datastore_search(self, d: dict) -> dict:
        rid = d.get("resource_id") or d.get("id")
        if rid not in self.s.datastore:
            raise not_found(f'Resource "{rid}" was not found.')
        table = self.s.datastore[rid]
        rows = table["records"]
        if d.get("filters"):
            if not isinstance(d["filters"], dict):
                raise invalid(filters=["filters must be a JSON object"])
            rows = [r for r in rows if _matches(r, d["filters"])]
        q = d.get("q")
        if q:
            needle = str(q).lower() if not isinstance(q, dict) else None
            if needle is not None:
                rows = [r for r in rows if any(needle in str(v).lower() for v in r.values())]
            else:
                rows = [
                    r
                    for r in rows
                    if all(str(v).lower() in str(r.get(k, "")).lower() for k, v in q.items())
                ]
        for part in reversed([s.strip() for s in str(d.get("sort") or "").split(",") if s.strip()]):
            name, _, direction = part.partition(" ")
            rows = sorted(
                rows,
                key=lambda r, n=name: (r.get(n) is None, r.get(n) if r.get(n) is not None else 0),
                reverse=direction.strip().lower() == "desc",
            )
        try:
            limit = min(int(d.get("limit", 100)), 32000)
            offset = int(d.get("offset", 0))
        except (TypeError, ValueError):
            raise invalid(limit=["Invalid integer"]) from None
        fields = [{"id": "_id", "type": "int"}, *table["fields"]]
        wanted = d.get("fields")
        if wanted:
            wanted = [w.strip() for w in wanted.split(",")] if isinstance(wanted, str) else wanted
            fields = [f for f in fields if f["id"] in wanted]
        ids = [f["id"] for f in fields]
        page = [{k: r.get(k) for k in ids} for r in rows[offset : offset + limit]]
        path = "/api/3/action/datastore_search"
        return {
            "include_total": True,
            "resource_id": rid,
            "fields": fields,
            "records_format": "objects",
            "records": page,
            "limit": limit,
            "offset": offset,
            "total": len(rows),
            "_links": {
                "start": f"{path}?resource_id={rid}",
                "next": f"{path}?resource_id={rid}&offset={offset + limit}",
            },
        }


def _matches(row: dict, filters: dict) -> bool:
    for k, v in filters.items():
        allowed = v if isinstance(v, list) else [v]
        if str(row.get(k)) not in {str(a) for a in allowed}:
            return False
    return True


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
    app = FastAPI(title="CKAN simulator (Satu Data portal)")
    app.state.ckan = store
    app.state.faults = fault_state
    app.add_middleware(FaultMiddleware, state=fault_state)

    def envelope(request: Request, action: str, status: int, **body: Any) -> JSONResponse:
        help_url = f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"
        return JSONResponse({"help": help_url, **body}, status_code=status)

    async def data_dict(request: Request) -> tuple[dict, Any]:
        if request.method == "GET":
            d: dict[str, Any] = dict(request.query_params)
            for k in JSON_PARAMS & set(d):
                try:
                    d[k] = json.loads(d[k])
                except ValueError:
                    pass
            return d, None
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            d, upload = {}, None
            for k, v in form.multi_items():
                if hasattr(v, "read"):
                    upload = (v.filename, await v.read(), v.content_type)
                else:
                    d[k] = v
            for k in JSON_PARAMS & set(d):
                try:
                    d[k] = json.loads(d[k])
                except ValueError:
                    pass
            return d, upload
        raw = await request.body()
        if not raw.strip():
            return {}, None
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise CkanError(400, "Bad request", "Bad request - JSON Error: not an object")
        return body, None

    async def dispatch(request: Request, action: str) -> JSONResponse:
        actions = Actions(store, str(request.base_url).rstrip("/"))
        if action not in PUBLIC_ACTIONS | WRITE_ACTIONS:
            return envelope(
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
                d, upload = await data_dict(request)
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
            return envelope(request, action, 200, success=True, result=result)
        except CkanError as exc:
            return envelope(request, action, exc.status, success=False, error=exc.body)

    for prefix in ("/api/3/action", "/api/action"):
        app.add_api_route(f"{prefix}/{{action}}", dispatch, methods=["GET", "POST"])

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/dataset/{package_id}/resource/{resource_id}/download/{filename}")
    def download(package_id: str, resource_id: str, filename: str):
        path = store.dir / "uploads" / resource_id / filename
        if resource_id not in store.resources or not path.is_file():
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(path)

    if admin:
        from simpul.simulators.siak import add_admin_routes

        add_admin_routes(app, fault_state)
    return app


__all__ = ["CKAN_VERSION", "CkanStore", "create_app"]
