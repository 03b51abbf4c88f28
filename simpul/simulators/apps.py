"""What every simulator app shares: the app with its fault middleware, the health probe and
the local admin test hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.middleware.gzip import GZipMiddleware

from simpul.simulators.common import TokenStore
from simpul.simulators.faults import FaultConfig, FaultMiddleware, FaultState


def simulator_app(
    title: str, fault_state: FaultState, *, gzip: bool = False, **state: Any
) -> FastAPI:
    """A FastAPI app with ``state`` on ``app.state``, the faults acting on what goes over the
    wire (after compression, with ``gzip``), and ``GET /health``."""
    app = FastAPI(title=title)
    for name, value in state.items():
        setattr(app.state, name, value)
    app.state.faults = fault_state
    if gzip:
        app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(FaultMiddleware, state=fault_state)
    add_health_route(app)
    return app


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
