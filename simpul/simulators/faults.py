"""Fault switches shared by every HTTP simulator, so connectors are tested against bad days.

``FaultConfig`` is plain data (settable from tests, the CLI, or ``POST /admin/faults``);
``FaultMiddleware`` applies the transport-level faults (latency, 5xx bursts, timeouts, rate
limits, truncated bodies); ``FaultState.rows``/``page_for`` apply the data-level ones (schema
change, duplicate page) inside the endpoints that page through data.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from typing import Any

EXEMPT_PREFIXES = ("/health", "/admin", "/api/v1/auth", "/oauth", "/api/3/action/status_show")


@dataclass
class FaultConfig:
    """Which faults to inject; every switch is off by default.

    Counters are per path: ``error_burst=2`` makes the first two requests to each data path
    answer ``error_status`` (503), then the path recovers.
    """

    latency_s: float = 0.0  # added to every request
    error_burst: int = 0  # first N requests per path fail with error_status
    error_status: int = 503
    timeout_requests: int = 0  # first N requests per path (after the error burst) hang ...
    timeout_s: float = 30.0  # ... this long: longer than a client's timeout
    truncate_requests: int = 0  # first N successful responses per path are cut mid-body
    rate_limit: int = 0  # max requests per rate_window_s (0 = unlimited) -> 429 + Retry-After
    rate_window_s: float = 60.0
    rename_fields: dict[str, str] = field(default_factory=dict)  # schema change: old -> new
    add_fields: dict[str, Any] = field(default_factory=dict)  # schema change: new columns
    duplicate_page: int = 0  # this page number (>= 2) is served with the previous page's rows
    paths: tuple[str, ...] = ()  # path prefixes the faults apply to; empty = all data paths

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        data = dict(data)
        if "paths" in data:
            data["paths"] = tuple(data["paths"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["paths"] = list(self.paths)
        return d


class FaultState:
    """A FaultConfig plus the per-path counters it needs; thread-safe."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = defaultdict(int)
        self._ok_counts: dict[str, int] = defaultdict(int)
        self._window: list[float] = []
        self._duplicated: set[str] = set()

    def reset(self, config: FaultConfig | None = None) -> None:
        with self._lock:
            if config is not None:
                self.config = config
            self._counts.clear()
            self._ok_counts.clear()
            self._window.clear()
            self._duplicated.clear()

    def applies(self, path: str) -> bool:
        if path.startswith(EXEMPT_PREFIXES):
            return False
        return not self.config.paths or path.startswith(tuple(self.config.paths))

    def next_request(self, path: str) -> tuple[int, float | None]:
        """Count a request; returns (its number on this path, Retry-After if rate limited)."""
        c = self.config
        with self._lock:
            if c.rate_limit:
                now = time.monotonic()
                self._window = [t for t in self._window if now - t < c.rate_window_s]
                if len(self._window) >= c.rate_limit:
                    return 0, max(1.0, math.ceil(c.rate_window_s - (now - self._window[0])))
                self._window.append(now)
            self._counts[path] += 1
            return self._counts[path], None

    def next_ok(self, path: str) -> int:
        with self._lock:
            self._ok_counts[path] += 1
            return self._ok_counts[path]

    # -- data-level faults ----------------------------------------------------------------
    def rows(self, rows: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
        """Apply a schema change (renamed / added columns) to served rows."""
        c = self.config
        if not (c.rename_fields or c.add_fields) or not self.applies(path):
            return rows
        out = []
        for r in rows:
            r = {c.rename_fields.get(k, k): v for k, v in r.items()}
            r.update(c.add_fields)
            out.append(r)
        return out

    def page_for(self, page: int, path: str) -> int:
        """Page whose rows to serve: the previous one, once, for ``duplicate_page``."""
        c = self.config
        if c.duplicate_page >= 2 and page == c.duplicate_page and self.applies(path):
            with self._lock:
                if path not in self._duplicated:
                    self._duplicated.add(path)
                    return page - 1
        return page


def _json_response(status: int, body: dict[str, Any], extra: list | None = None):
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    return status, headers + (extra or []), payload


class FaultMiddleware:
    """Pure ASGI middleware (no buffering unless truncating) applying transport faults."""

    def __init__(self, app, state: FaultState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        st = self.state
        c = st.config
        if c.latency_s:
            await asyncio.sleep(c.latency_s)
        if not st.applies(path):
            await self.app(scope, receive, send)
            return
        n, retry_after = st.next_request(path)
        if retry_after is not None:
            await self._send(
                send,
                *_json_response(
                    429,
                    {"error": "rate_limited", "message": "too many requests"},
                    [(b"retry-after", str(int(retry_after)).encode())],
                ),
            )
            return
        if n <= c.error_burst:
            await self._send(
                send,
                *_json_response(
                    c.error_status, {"error": "unavailable", "message": "simulated outage"}
                ),
            )
            return
        if n <= c.error_burst + c.timeout_requests:
            await asyncio.sleep(c.timeout_s)
        if c.truncate_requests and st.next_ok(path) <= c.truncate_requests:
            await self._truncated(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(send, status: int, headers: list, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _truncated(self, scope, receive, send) -> None:
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        cut = body[: max(1, len(body) // 2)]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await self._send(send, start.get("status", 200), headers, cut)
