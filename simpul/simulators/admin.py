"""Routes every simulator app shares: the health probe and the local admin test hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from simpul.simulators.common import TokenStore
from simpul.simulators.faults import FaultConfig, FaultState


def add_health_route(app: FastAPI) -> None:
    """``GET /health`` -> ``{"status": "ok"}``."""

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}


def add_admin_routes(
    app: FastAPI,
    faults: FaultState,
    tokens: TokenStore | None = None,
    advance: Callable[[int], dict[str, Any]] | None = None,
) -> None:
    """Local test hooks: advance time, switch faults, revoke tokens. No auth, by design."""

    if advance is not None:
        step = advance

        @app.post("/admin/advance")
        async def admin_advance(request: Request, days: int = Query(7, ge=1, le=3650)) -> Any:
            return step(days)

    @app.get("/admin/faults")
    def get_faults() -> Any:
        return faults.config.to_dict()

    @app.post("/admin/faults")
    async def set_faults(request: Request) -> Any:
        try:
            cfg = FaultConfig.from_dict(await request.json() or {})
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": "invalid_faults", "message": str(exc)}, status_code=400)
        faults.reset(cfg)
        return cfg.to_dict()

    if tokens is not None:
        store = tokens

        @app.post("/admin/revoke-tokens")
        def revoke() -> Any:
            store.revoke_all()
            return {"revoked": True}
