"""CKAN's DataStore actions: typed tables of records under a resource, written all or
nothing by primary key, searched with filters, full text, sort and paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simpul.simulators.ckan_actions import CatalogActions
from simpul.simulators.ckan_store import INT_TYPES, NUM_TYPES, invalid, not_found, now_text


class Actions(CatalogActions):
    """Every action function: the catalogue's and the DataStore's."""

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
        out: dict[str, Any] = {}
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
        self.s.resources[rid]["last_modified"] = now_text()
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
            rows = sorted(rows, key=_sort_key(name), reverse=direction.strip().lower() == "desc")
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


def _sort_key(name: str) -> Callable[[dict], tuple[bool, Any]]:
    """Sort by column ``name``, nulls last."""
    return lambda r: (r.get(name) is None, r.get(name) if r.get(name) is not None else 0)


def _matches(row: dict, filters: dict) -> bool:
    for k, v in filters.items():
        allowed = v if isinstance(v, list) else [v]
        if str(row.get(k)) not in {str(a) for a in allowed}:
            return False
    return True
