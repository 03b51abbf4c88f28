"""Pieces every simulator shares: bearer tokens, JSON errors, ISO times, page-number paging."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Request
from fastapi.responses import JSONResponse

from simpul.simulators.faults import FaultState
from simpul.simulators.filedrop import delivered_with_defects
from simpul.synth.codes import KABUPATEN_NAME, PROVINCE_NAME, code_lists, regions
from simpul.synth.injector import CODE_COLUMNS

if TYPE_CHECKING:
    from simpul.synth.world import World


class TokenStore:
    """Opaque bearer tokens with an expiry; enough for client-credential flows."""

    def __init__(self, ttl: int = 3600) -> None:
        self.ttl = ttl
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.ttl
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            exp = self._tokens.get(token)
        return exp is not None and exp > time.monotonic()

    def revoke_all(self) -> None:
        """Lets tests force a 401 mid-run (the client must log in again)."""
        with self._lock:
            self._tokens.clear()


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    return h[7:].strip() if h.lower().startswith("bearer ") else None


def unauthorized() -> JSONResponse:
    return error(
        401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
    )


def parse_iso(value: str) -> datetime:
    """ISO 8601 with Z, an offset, or none (taken as UTC); a bare date means midnight UTC."""
    v = value.strip().replace(" ", "T")
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_body(
    request: Request,
    rows_for: Any,
    total: int,
    page: int,
    per_page: int,
    faults: FaultState,
) -> dict[str, Any]:
    """Standard ``{"data", "meta", "links"}`` page; ``rows_for(start, stop)`` gives the rows."""
    path = request.url.path
    total_pages = max(1, -(-total // per_page)) if total else 0
    served = faults.page_for(page, path)
    start = (served - 1) * per_page
    data = rows_for(start, min(start + per_page, total)) if start < total else []
    nxt = str(request.url.include_query_params(page=page + 1)) if page < total_pages else None
    return {
        "data": faults.rows(data, path),
        "meta": {"page": page, "per_page": per_page, "total": total, "total_pages": total_pages},
        "links": {"next": nxt},
    }


# --- labels ------------------------------------------------------------------------------
LABEL_LISTS = {
    **CODE_COLUMNS,  # the coded person columns, as the defect injector knows them
    "status_dasar": "status_dasar_opensid",
    "kewarganegaraan": "kewarganegaraan",
    "kode_peristiwa": "peristiwa_opensid",
}


def to_label(column: str, code: str | None) -> str | None:
    """Canonical code -> label; an unknown (defective) code passes through unchanged."""
    if code is None:
        return None
    return code_lists()[LABEL_LISTS[column]].get(code, code)


def region_fields(kode_desa: str | None) -> dict[str, str | None]:
    """NO_PROP/NO_KAB/NO_KEC/NO_KEL and names from a dotted village code."""
    parts = (kode_desa or "").split(".")
    if len(parts) != 4:
        return {
            "NO_PROP": None,
            "NO_KAB": None,
            "NO_KEC": None,
            "NO_KEL": None,
            "PROP_NAME": None,
            "KAB_NAME": None,
            "KEC_NAME": None,
        }
    kec = ".".join(parts[:3])
    return {
        "NO_PROP": parts[0],
        "NO_KAB": parts[1],
        "NO_KEC": parts[2],
        "NO_KEL": parts[3],
        "PROP_NAME": PROVINCE_NAME,
        "KAB_NAME": KABUPATEN_NAME,
        "KEC_NAME": regions().sumsel_districts.get(kec, "").upper() or None,
    }


def village_name(kode_desa: str | None) -> str | None:
    v = regions().okut_villages.get(kode_desa or "")
    return v[1].upper() if v else None


def dmy(iso: str | None) -> str | None:
    """'1995-01-04' -> '04-01-1995'; anything else (a defect) passes through."""
    if iso and len(iso) == 10 and iso[4] == "-" and iso[7] == "-":
        return f"{iso[8:10]}-{iso[5:7]}-{iso[0:4]}"
    return iso


def served_rows(
    world: World,
    world_dir: Path,
    entity: str,
    kinds: tuple[str, ...],
    defect_rate: float,
    seed: int,
    source: str,
) -> tuple[pa.Table, pa.Table]:
    """An API simulator's ``entity`` rows as delivered (with ``kinds`` of defects when
    ``defect_rate`` > 0) and their ground truth, also written to
    ``ground_truth/<source>_<entity>.parquet`` for the scoring tests."""
    delivered, truth = delivered_with_defects(
        getattr(world, entity),
        world,
        rate=defect_rate,
        seed=seed,
        kinds=kinds,
        entity=entity,
        min_rows=0,
    )
    gt_dir = world_dir / "ground_truth"
    gt_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(truth, gt_dir / f"{source}_{entity}.parquet")
    return delivered, truth
