"""The CKAN simulator's state and errors: packages, resources, organizations and datastore
tables, persisted as one JSON file, and the action failures rendered as CKAN's envelopes."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simpul.simulators.filedrop import write_atomic

CKAN_VERSION = "2.10.4"
NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
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


def now_text() -> str:
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


def tags_of(value: Any) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    out = []
    for t in value:
        name = t.get("name") if isinstance(t, dict) else str(t)
        out.append({"name": name, "display_name": name, "state": "active"})
    return out
