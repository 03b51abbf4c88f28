"""Disdukcapil SIAK-like REST API simulator (FastAPI), serving a generated world.

Contract (the SIAK connector is written against exactly this):

- ``POST /api/v1/auth/token`` JSON ``{"client_id", "client_secret"}`` -> bearer token (3600 s).
- ``GET /api/v1/penduduk|keluarga|peristiwa?page&per_page&updated_since&kode_kecamatan`` ->
  ``{"data", "meta": {page, per_page, total, total_pages}, "links": {"next"}}``; rows ordered
  by (UPDATED_AT, key), ``updated_since`` inclusive, per_page at most 1000.
- ``GET /api/v1/penduduk/deleted?since=`` -> ``{"data": [{"NIK", "DELETED_AT"}]}``.
- ``GET /health``; with ``admin=True``: ``POST /admin/advance``, ``/admin/faults``,
  ``/admin/revoke-tokens`` (no auth: a local test hook).

Rows use Dukcapil web-service style: upper-case keys, labels instead of codes, dd-mm-yyyy dates.
With ``defect_rate > 0`` penduduk rows carry defects from ``simpul.synth.defects`` and the
ground truth goes to ``<world_dir>/ground_truth/siak_penduduk.parquet``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request

from simpul.simulators.apps import add_admin_routes, simulator_app
from simpul.simulators.common import (
    TokenStore,
    bearer,
    dmy,
    error,
    page_body,
    parse_iso,
    region_fields,
    to_label,
    unauthorized,
    village_name,
)
from simpul.simulators.faults import FaultConfig, FaultState
from simpul.simulators.siak_register import SiakState, Stream

MAX_PER_PAGE = 1000


def penduduk_row(r: dict[str, Any]) -> dict[str, Any]:
    """Canonical text record -> Dukcapil web-service row (labels, dd-mm-yyyy)."""
    return {
        "NIK": r["nik"],
        "NO_KK": r["no_kk"],
        "NAMA_LGKP": r["nama_lengkap"],
        "JENIS_KLMIN": to_label("jenis_kelamin", r["jenis_kelamin"]),
        "TMPT_LHR": r["tempat_lahir"],
        "TGL_LHR": dmy(r["tanggal_lahir"]),
        "AGAMA": to_label("agama", r["agama"]),
        "STATUS_KAWIN": to_label("status_perkawinan", r["status_perkawinan"]),
        "STAT_HBKEL": to_label("shdk", r["shdk"]),
        "PDDK_AKH": to_label("pendidikan", r["pendidikan"]),
        "JENIS_PKRJN": to_label("pekerjaan", r["pekerjaan"]),
        "GOL_DARAH": to_label("golongan_darah", r["golongan_darah"]),
        "NIK_AYAH": r["nik_ayah"],
        "NAMA_LGKP_AYAH": r["nama_ayah"],
        "NIK_IBU": r["nik_ibu"],
        "NAMA_LGKP_IBU": r["nama_ibu"],
        **region_fields(r["kode_desa"]),
        "KEL_NAME": r.get("nama_desa") or village_name(r["kode_desa"]),
        "DUSUN": r["dusun"],
        "ALAMAT": r["alamat"],
        "NO_RT": r["rt"],
        "NO_RW": r["rw"],
        "STATUS": to_label("status_dasar", r["status_dasar"]),
        "UPDATED_AT": r["updated_at"],
    }


def keluarga_row(r: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "NO_KK": r["no_kk"],
        "NIK_KEPALA": r["nik_kepala"],
        "NAMA_KEP": names.get(r["nik_kepala"] or ""),
        "ALAMAT": r["alamat"],
        "DUSUN": r["dusun"],
        "NO_RT": r["rt"],
        "NO_RW": r["rw"],
        **region_fields(r["kode_desa"]),
        "KEL_NAME": village_name(r["kode_desa"]),
        "JML_ANGGOTA": int(r["jumlah_anggota"]),
        "TGL_KK": dmy(r["tanggal_terbit"]),
        "UPDATED_AT": r["updated_at"],
    }


def peristiwa_row(r: dict[str, Any]) -> dict[str, Any]:
    label = to_label("kode_peristiwa", r["kode_peristiwa"]) or ""  # every event has a kind
    return {
        "ID_PERISTIWA": r["id_peristiwa"],
        "NIK": r["nik"],
        "NO_KK": r["no_kk"],
        "KODE_PERISTIWA": r["kode_peristiwa"],
        "JENIS_PERISTIWA": label.upper(),
        "TGL_PERISTIWA": dmy(r["tanggal_peristiwa"]),
        **region_fields(r["kode_desa"]),
        "KEL_NAME": village_name(r["kode_desa"]),
        "WILAYAH_ASAL_TUJUAN": r["kode_wilayah_lain"],
        "UPDATED_AT": r["updated_at"],
    }


def _kecamatan(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip()
    if len(v) == 6 and v.isdigit():
        v = f"{v[:2]}.{v[2:4]}.{v[4:]}"
    return v


def create_app(
    world_dir: Path,
    *,
    client_id: str,
    client_secret: str,
    defect_rate: float = 0.0,
    seed: int = 42,
    faults: FaultConfig | None = None,
    admin: bool = False,
    token_ttl: int = 3600,
) -> FastAPI:
    """The SIAK simulator app for a world written by ``World.write``."""
    state = SiakState(Path(world_dir), defect_rate, seed)
    tokens = TokenStore(token_ttl)
    fault_state = FaultState(faults)
    # Disdukcapil's gateway compresses when asked (Accept-Encoding: gzip): a metered line
    # carries a fraction of the JSON; the faults act on what goes over the wire
    app = simulator_app(
        "SIAK simulator (Disdukcapil)", fault_state, gzip=True, siak=state, tokens=tokens
    )
    _add_token_route(app, tokens, client_id, client_secret)
    api = _Api(state, tokens, fault_state)
    for path, stream, convert in (
        ("/api/v1/penduduk", state.people, penduduk_row),
        ("/api/v1/keluarga", state.families, lambda r: keluarga_row(r, state.names)),
        ("/api/v1/peristiwa", state.events, peristiwa_row),
    ):
        _add_paged_route(app, path, api, stream, convert)
    _add_deleted_route(app, api)
    if admin:
        add_admin_routes(app, fault_state, tokens, advance=state.advance)
    return app


def _add_token_route(app: FastAPI, tokens: TokenStore, client_id: str, client_secret: str) -> None:
    """``POST /api/v1/auth/token``: client id and secret as JSON -> bearer token."""

    @app.post("/api/v1/auth/token")
    async def token(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error(400, "invalid_request", "JSON body with client_id and client_secret")
        ok = secrets.compare_digest(
            str(body.get("client_id", "")), client_id
        ) and secrets.compare_digest(str(body.get("client_secret", "")), client_secret)
        if not ok:
            return error(401, "invalid_client", "unknown client_id or wrong client_secret")
        return {"access_token": tokens.issue(), "token_type": "bearer", "expires_in": tokens.ttl}


class _Api:
    """What the data routes share: the register, the tokens and the faults."""

    def __init__(self, state: SiakState, tokens: TokenStore, faults: FaultState) -> None:
        self.state = state
        self.tokens = tokens
        self.faults = faults

    def paged(
        self,
        request: Request,
        stream: Stream,
        convert: Callable[[dict[str, Any]], dict[str, Any]],
        query: tuple[int, int, str | None, str | None],
    ) -> Any:
        """One page of ``stream`` (``query`` = page, per_page, updated_since, kode_kecamatan)."""
        page, per_page, updated_since, kode_kecamatan = query
        if not self.tokens.valid(bearer(request)):
            return unauthorized()
        try:
            since = parse_iso(updated_since) if updated_since else None
        except ValueError:
            return error(400, "invalid_parameter", "updated_since must be ISO 8601")
        per_page = min(per_page, MAX_PER_PAGE)
        with self.state.lock:
            idx = stream.select(since, _kecamatan(kode_kecamatan))

            def rows_for(a: int, b: int) -> list[dict[str, Any]]:
                return [convert(r) for r in stream.records(idx[a:b])]

            return page_body(request, rows_for, len(idx), page, per_page, self.faults)


def _add_paged_route(
    app: FastAPI,
    path: str,
    api: _Api,
    stream: Stream,
    convert: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """``GET <path>?page&per_page&updated_since&kode_kecamatan`` over ``stream``."""

    @app.get(path)
    def rows(
        request: Request,
        page: int = Query(1, ge=1),
        per_page: int = Query(500, ge=1),
        updated_since: str | None = None,
        kode_kecamatan: str | None = None,
    ) -> Any:
        return api.paged(request, stream, convert, (page, per_page, updated_since, kode_kecamatan))


def _add_deleted_route(app: FastAPI, api: _Api) -> None:
    """``GET /api/v1/penduduk/deleted?since=``: NIKs Disdukcapil removed, with when."""

    @app.get("/api/v1/penduduk/deleted")
    def deleted(request: Request, since: str | None = None) -> Any:
        if not api.tokens.valid(bearer(request)):
            return unauthorized()
        try:
            t = parse_iso(since) if since else None
        except ValueError:
            return error(400, "invalid_parameter", "since must be ISO 8601")
        with api.state.lock:
            rows = [
                {"NIK": n, "DELETED_AT": at}
                for n, at in api.state.deleted
                if t is None or parse_iso(at) >= t
            ]
        rows.sort(key=lambda r: (r["DELETED_AT"], r["NIK"]))
        return {"data": rows, "meta": {"total": len(rows)}}
