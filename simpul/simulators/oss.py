"""OSS-RBA-like business-permit API simulator: OAuth2 client credentials, cursor pages, 429s.

- ``POST /oauth/token`` form ``grant_type=client_credentials&client_id&client_secret`` (or HTTP
  Basic) -> ``{"access_token", "token_type": "Bearer", "expires_in"}``.
- ``GET /api/v1/izin?limit=100&cursor=&updated_since=`` -> ``{"data", "next_cursor"}``; rows
  ordered by (updated_at, nomor_izin); the cursor is opaque.
- Rate limit (default 120 requests / 60 s) -> 429 with ``Retry-After`` seconds.
With ``defect_rate > 0`` rows carry defects; truth in ``ground_truth/oss_izin.parquet``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Query, Request

from simpul.simulators.apps import add_admin_routes, simulator_app
from simpul.simulators.common import (
    TokenStore,
    bearer,
    error,
    parse_iso,
    served_rows,
    unauthorized,
)
from simpul.simulators.faults import FaultConfig, FaultState
from simpul.synth.world import load_world

MAX_LIMIT = 500
OSS_KINDS = (
    "permit_unknown_nik",
    "nik_excel_zeroed",
    "leading_apostrophe",
    "nonprinting_chars",
    "duplicate_nik",
    "mixed_date_format",
    "future_date",
)


def _cursor(pos: int) -> str:
    return base64.urlsafe_b64encode(f"o:{pos}".encode()).decode().rstrip("=")


def _position(cursor: str) -> int:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.startswith("o:"):
        raise ValueError("bad cursor")
    return int(raw[2:])


def create_app(
    world_dir: Path,
    *,
    client_id: str,
    client_secret: str,
    defect_rate: float = 0.0,
    seed: int = 42,
    faults: FaultConfig | None = None,
    admin: bool = False,
    rate_limit: int = 120,
    rate_window_s: float = 60.0,
    token_ttl: int = 3600,
) -> FastAPI:
    """OSS simulator over the world's ``izin`` table."""
    world = load_world(world_dir)
    delivered, _ = served_rows(world, Path(world_dir), "izin", OSS_KINDS, defect_rate, seed, "oss")
    df = delivered.to_pandas().astype(object)
    df = df.where(df.notna(), None).drop(columns=["nama_desa"], errors="ignore")
    ts = pd.to_datetime(df["updated_at"], utc=True, format="ISO8601").dt.tz_localize(None)
    df = df.assign(_ts=ts.to_numpy()).sort_values(["_ts", "nomor_izin"], kind="stable")
    df = df.reset_index(drop=True)
    stamps = df["_ts"].to_numpy().astype("datetime64[us]")
    records = df.drop(columns=["_ts"]).to_dict("records")

    cfg = faults or FaultConfig()
    if not cfg.rate_limit and rate_limit:
        cfg = replace(cfg, rate_limit=rate_limit, rate_window_s=rate_window_s)
    fault_state = FaultState(cfg)
    tokens = TokenStore(token_ttl)
    app = simulator_app("OSS-RBA simulator (DPMPTSP)", fault_state, tokens=tokens)
    _add_token_route(app, tokens, client_id, client_secret)
    _add_izin_route(app, tokens, fault_state, stamps, records)
    if admin:
        add_admin_routes(app, fault_state, tokens)
    return app


def _add_token_route(app: FastAPI, tokens: TokenStore, client_id: str, client_secret: str) -> None:
    """``POST /oauth/token``: client credentials as form fields or HTTP Basic."""

    @app.post("/oauth/token")
    async def token(request: Request) -> Any:
        form = await request.form()
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return error(401, "invalid_client", "bad basic credentials")
        if form.get("grant_type") != "client_credentials":
            return error(400, "unsupported_grant_type", "only client_credentials")
        if not (
            secrets.compare_digest(str(cid or ""), client_id)
            and secrets.compare_digest(str(secret or ""), client_secret)
        ):
            return error(401, "invalid_client", "unknown client or wrong secret")
        return {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": tokens.ttl}


def _add_izin_route(
    app: FastAPI,
    tokens: TokenStore,
    fault_state: FaultState,
    stamps: np.ndarray,
    records: list[dict[str, Any]],
) -> None:
    """``GET /api/v1/izin?limit&cursor&updated_since``: cursor pages in update order."""

    @app.get("/api/v1/izin")
    def izin(
        request: Request,
        limit: int = Query(100, ge=1),
        cursor: str | None = None,
        updated_since: str | None = None,
    ) -> Any:
        if not tokens.valid(bearer(request)):
            return unauthorized()
        limit = min(limit, MAX_LIMIT)
        try:
            if cursor:
                start = _position(cursor)
            elif updated_since:
                since = np.datetime64(parse_iso(updated_since).replace(tzinfo=None), "us")
                start = int(np.searchsorted(stamps, since, side="left"))
            else:
                start = 0
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return error(400, "invalid_parameter", "bad cursor or updated_since")
        rows = records[start : start + limit]
        end = start + len(rows)
        return {
            "data": fault_state.rows(rows, request.url.path),
            "next_cursor": _cursor(end) if end < len(records) else None,
        }
