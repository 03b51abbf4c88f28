"""CKAN's catalogue actions: site status, organizations, packages and resources."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from simpul.simulators.ckan_store import (
    CKAN_VERSION,
    NAME_RE,
    CkanStore,
    invalid,
    not_found,
    now_text,
    tags_of,
)
from simpul.simulators.filedrop import write_atomic


class CatalogActions:
    """The catalogue action functions; each takes the request's data dict and returns the result."""

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
            "created": now_text(),
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
        now = now_text()
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
            "tags": tags_of(d.get("tags")),
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
            pkg[k] = tags_of(v) if k == "tags" else v
        if "owner_org" in d:
            pkg["owner_org"] = self._org_id(d["owner_org"])
        if "resources" in d:
            for rid in pkg["resource_ids"]:
                self.s.resources.pop(rid, None)
            pkg["resource_ids"] = []
            for r in d["resources"] or []:
                self._new_resource(pkg, dict(r), None)
        pkg["metadata_modified"] = now_text()
        return self.s.full_package(pkg)

    # -- resources ------------------------------------------------------------------------------
    def _new_resource(self, pkg: dict, d: dict, upload: Any) -> dict:
        now = now_text()
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
            fname = self._store_upload(pkg, res, upload)
            res.update(mimetype=upload[2], last_modified=now)
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
        res["last_modified"] = now_text()
        if upload is not None:
            pkg = self.s.package(res["package_id"])
            self._store_upload(pkg, res, upload)
        return res

    def _store_upload(self, pkg: dict, res: dict, upload: Any) -> str:
        """Keep an uploaded ``(filename, bytes, content type)`` under the resource and point
        its url at the download route; returns the stored file name."""
        fname = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload[0] or "upload").name)
        write_atomic(self.s.dir / "uploads" / res["id"] / fname, upload[1])
        res.update(
            url=f"{self.base_url}/dataset/{pkg['id']}/resource/{res['id']}/download/{fname}",
            url_type="upload",
            size=len(upload[1]),
        )
        return fname
