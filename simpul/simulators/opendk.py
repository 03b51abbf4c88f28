"""OpenDK-style receiver for village pushes, and the client a village (or the demo) uses.

OpenSID pushes its population to the kecamatan's OpenDK as a multipart POST to
``/api/v1/penduduk/storedata``: field ``file`` = a ZIP holding ``penduduk_dd_mm_YYYY_opendk.xlsx``,
form field ``desa_id`` = Kemendagri village code, header ``Authorization: Bearer <token>``.
The receiver checks all of that (and that the workbook is the 43-column template) *before*
keeping anything, then stores the ZIP atomically as ``opendk_<desa dotted>_<timestamp>.zip`` in
the drop folder the hub's OpenSID connector reads, and answers with a JSON receipt (SHA-256,
rows, stored name) the village can keep as evidence. The same ZIP sent twice is stored once.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import threading
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from simpul.simulators.apps import add_admin_routes, simulator_app
from simpul.simulators.common import bearer
from simpul.simulators.faults import FaultConfig, FaultState
from simpul.simulators.filedrop import write_atomic
from simpul.simulators.opensid import SHEET, TEMPLATE_COLUMNS
from simpul.synth.codes import regions

STORE_PATH = "/api/v1/penduduk/storedata"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_MEMBER_BYTES = 200 * 1024 * 1024  # unpacked workbook: refuse ZIP bombs
INNER_NAME = re.compile(r"^penduduk_(\d{2})_(\d{2})_(\d{4})_opendk\.xlsx$")


class OpenDkPushError(Exception):
    """The receiver refused a push (4xx) or stayed unavailable; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"OpenDK push failed ({status}): {message}")
        self.status = status
        self.message = message


def inner_file_name(on: date) -> str:
    return f"penduduk_{on:%d_%m_%Y}_opendk.xlsx"


def opendk_zip(xlsx_bytes: bytes, on: date) -> bytes:
    """The ZIP OpenSID sends: one workbook named for the export date."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(inner_file_name(on), date_time=(on.year, on.month, on.day, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, xlsx_bytes)
    return buf.getvalue()


def normalise_desa(value: str | None) -> str | None:
    """'1608012006' or '16.08.01.2006' -> '16.08.01.2006' when it is a known village."""
    v = (value or "").strip()
    if len(v) == 10 and v.isdigit():
        v = f"{v[:2]}.{v[2:4]}.{v[4:6]}.{v[6:]}"
    return v if v in regions().okut_villages else None


def _fail(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "error": code, "message": message},
        status_code=status,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


def _check_zip(data: bytes) -> tuple[str, int] | JSONResponse:
    """(inner workbook name, data rows) or the 422 explaining what is wrong."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return _fail(422, "invalid_file", "file is not a ZIP / berkas bukan ZIP")
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        books = [m for m in members if INNER_NAME.match(Path(m.filename).name)]
        if len(books) != 1 or len(members) != 1:
            return _fail(
                422,
                "invalid_file",
                "ZIP must hold exactly one penduduk_dd_mm_YYYY_opendk.xlsx "
                "/ ZIP harus berisi tepat satu penduduk_dd_mm_YYYY_opendk.xlsx",
            )
        book = books[0]
        named = INNER_NAME.match(Path(book.filename).name)
        assert named is not None  # books holds only matching names
        dd, mm, yyyy = named.groups()
        try:
            date(int(yyyy), int(mm), int(dd))
        except ValueError:
            return _fail(422, "invalid_file", "workbook name carries no valid date")
        if book.file_size > MAX_MEMBER_BYTES:
            return _fail(413, "too_large", "workbook too large / berkas terlalu besar")
        try:
            xlsx = zf.read(book)
        except (zipfile.BadZipFile, OSError, RuntimeError):
            return _fail(422, "invalid_file", "ZIP is damaged / ZIP rusak")
    rows = _check_workbook(xlsx)
    if isinstance(rows, JSONResponse):
        return rows
    return Path(book.filename).name, rows


def _check_workbook(xlsx: bytes) -> int | JSONResponse:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(xlsx), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many types for a broken workbook
        return _fail(422, "invalid_file", "workbook cannot be opened / berkas Excel rusak")
    try:
        if SHEET not in wb.sheetnames:
            return _fail(422, "invalid_file", f"no sheet {SHEET!r} / tidak ada sheet {SHEET!r}")
        it = wb[SHEET].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, ())]
        if header[: len(TEMPLATE_COLUMNS)] != TEMPLATE_COLUMNS:
            return _fail(
                422,
                "invalid_template",
                "header is not the OpenSID 43-column template / kolom bukan templat OpenSID",
            )
        return sum(1 for row in it if any(v not in (None, "") for v in row))
    finally:
        wb.close()


class _Receiver:
    """The drop folder plus an index of what was already stored (for idempotent retries)."""

    def __init__(self, drop_dir: Path) -> None:
        self.drop_dir = drop_dir
        self.lock = threading.Lock()
        self.seen: dict[str, str] = {}
        drop_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted(drop_dir.glob("opendk_*.zip")):
            self.seen.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), f.name)

    def store(self, desa: str, data: bytes) -> tuple[str, bool]:
        digest = hashlib.sha256(data).hexdigest()
        with self.lock:
            if digest in self.seen and (self.drop_dir / self.seen[digest]).exists():
                return self.seen[digest], True
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = f"opendk_{desa}_{stamp}.zip"
            write_atomic(self.drop_dir / name, data)
            self.seen[digest] = name
            return name, False


def create_opendk_app(
    drop_dir: Path | str,
    *,
    token: str,
    faults: FaultConfig | None = None,
    admin: bool = False,
) -> FastAPI:
    """The kecamatan's OpenDK push endpoint, storing accepted ZIPs into ``drop_dir``."""
    receiver = _Receiver(Path(drop_dir))
    fault_state = FaultState(faults)
    app = simulator_app("OpenDK push receiver (simulator)", fault_state, receiver=receiver)
    _add_store_route(app, receiver, token)
    if admin:
        add_admin_routes(app, fault_state)
    return app


def _add_store_route(app: FastAPI, receiver: _Receiver, token: str) -> None:
    """``POST`` a village's ZIP with its ``desa_id``: stored once, with a receipt."""

    @app.post(STORE_PATH)
    async def storedata(request: Request):
        given = bearer(request) or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            return _fail(401, "unauthorized", "missing or invalid bearer token")
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_UPLOAD_BYTES + 64 * 1024:
            return _fail(413, "too_large", "upload too large / unggahan terlalu besar")
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - malformed multipart
            return _fail(400, "invalid_request", "multipart/form-data expected")
        desa = normalise_desa(str(form.get("desa_id") or ""))
        if desa is None:
            return _fail(422, "invalid_desa", "desa_id is not a known Kemendagri village code")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _fail(422, "invalid_file", "form field 'file' (a ZIP) is required")
        data = await upload.read()
        if len(data) > MAX_UPLOAD_BYTES:
            return _fail(413, "too_large", "upload too large / unggahan terlalu besar")
        checked = _check_zip(data)
        if isinstance(checked, JSONResponse):
            return checked
        inner, rows = checked
        name, duplicate = receiver.store(desa, data)
        receipt: dict[str, Any] = {
            "status": "success",
            "message": "Data penduduk berhasil diterima / population data received",
            "data": {
                "desa_id": desa,
                "file": name,
                "inner_file": inner,
                "rows": rows,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "received_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duplicate": duplicate,
            },
        }
        return JSONResponse(receipt, status_code=200 if duplicate else 201)


def push_opendk(
    url: str,
    token: str,
    desa_code: str,
    xlsx_bytes: bytes,
    *,
    on: date | None = None,
    timeout: float = 30.0,
    retries: int = 3,
) -> dict[str, Any]:
    """Push one village workbook the way OpenSID does; returns the receiver's JSON receipt.

    Retries connection errors, 429 and 5xx (the ZIP is the same, and the receiver stores the
    same ZIP once); raises OpenDkPushError on a refusal (4xx) or when retries run out.
    """
    body = opendk_zip(xlsx_bytes, on or date.today())
    endpoint = url.rstrip("/") + STORE_PATH
    last = OpenDkPushError(0, "not attempted")
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.2 * 2**attempt, 5.0))
        try:
            r = httpx.post(
                endpoint,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                data={"desa_id": desa_code},
                files={"file": (f"{desa_code}.zip", body, "application/zip")},
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            last = OpenDkPushError(0, type(exc).__name__)
            continue
        if r.status_code in (200, 201):
            return r.json()
        try:
            message = r.json().get("message", r.text[:200])
        except ValueError:
            message = r.text[:200]
        last = OpenDkPushError(r.status_code, str(message))
        if r.status_code != 429 and r.status_code < 500:
            raise last
    raise last


__all__ = [
    "OpenDkPushError",
    "create_opendk_app",
    "inner_file_name",
    "normalise_desa",
    "opendk_zip",
    "push_opendk",
]
