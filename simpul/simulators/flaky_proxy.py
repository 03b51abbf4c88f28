"""A flaky network between the hub and an agency: a small fault-injecting HTTP proxy.

The simulators' own fault switches (:mod:`simpul.simulators.faults`) act inside the app, so
they cannot express what a kecamatan's mobile link does: connections reset, bodies cut off
mid-transfer, whole minutes when nothing gets through. This proxy sits in front of any
simulator and does exactly that, on real TCP:

- ``error_rate``: the share of requests answered ``error_status`` (503) by the "gateway";
- ``reset_rate``: the share whose connection is reset (RST) before any answer;
- ``truncate_rate``: the share whose answer stops half-way (the headers promise more);
- ``latency_s``: added to every request;
- a timed outage: from the ``outage_after``-th request on, for ``outage_s`` seconds
  (``math.inf``: the link is dead), every connection is either reset (``"refuse"``) or held
  open unanswered (``"blackhole"``, which the client sees as a read timeout).

Random draws come from ``random.Random(seed)``, so a test sees the same faults on every run.
It is bounded (rates 0-1, latency at most 30 s) and loopback only: it listens on 127.0.0.1 and
forwards only to a loopback upstream. The Host header is passed through, so the agency's
next-page links point back at the proxy. Every request is logged (:attr:`FlakyProxy.log`) with
its number, method, target, fault and bytes sent, so tests can check what was fetched.
One request per connection (``Connection: close``), which keeps the proxy small.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

MAX_HEAD = 64 * 1024
EXEMPT = ("/health", "/admin")


@dataclass
class FlakyConfig:
    """Which faults the proxy injects; all off by default."""

    seed: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_s: float = 0.0
    outage_after: int | None = None  # the outage begins at this request number (1-based)
    outage_s: float = 0.0  # and lasts this long; math.inf = the link is dead
    outage_mode: Literal["refuse", "blackhole"] = "refuse"
    paths: tuple[str, ...] = ()  # path prefixes faults apply to (empty: all but /health, /admin)

    def __post_init__(self) -> None:
        for name in ("error_rate", "reset_rate", "truncate_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {v}")
        if self.error_rate + self.reset_rate + self.truncate_rate > 1.0:
            raise ValueError("error_rate + reset_rate + truncate_rate must not exceed 1")
        if not 0.0 <= self.latency_s <= 30.0:
            raise ValueError("latency_s must be between 0 and 30 seconds")
        if self.outage_s < 0 or self.outage_mode not in ("refuse", "blackhole"):
            raise ValueError("outage_s >= 0 and outage_mode 'refuse' or 'blackhole'")
        if not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be an HTTP error status")


@dataclass
class LoggedRequest:
    n: int
    at: float
    method: str
    target: str
    fault: str  # "ok", "error", "reset", "truncate", "outage"
    bytes_sent: int = 0

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


@dataclass
class FlakyProxy:
    """A running proxy: ``url`` to give the hub, ``configure``, ``log``, ``stop``."""

    upstream: str
    config: FlakyConfig = field(default_factory=FlakyConfig)
    log: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        host = parts.hostname or ""
        if not _loopback(host):
            raise ValueError(f"the flaky proxy forwards to loopback only, not {host!r}")
        self._up_host = host
        self._up_port = parts.port or 80
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._count = 0
        self._outage_from: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self.url = ""

    # -- control ------------------------------------------------------------------------------
    def configure(self, config: FlakyConfig | None = None, **switches: Any) -> None:
        """New faults (and a fresh seed, request count and outage clock)."""
        config = config or FlakyConfig(**switches)
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._count = 0
            self._outage_from = None

    def start(self) -> FlakyProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEAD)
            )
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            for task in list(self._tasks):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="flaky-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("flaky proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        def close() -> None:
            if self._server is not None:
                self._server.close()
            loop.stop()

        loop.call_soon_threadsafe(close)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FlakyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def faults(self) -> dict[str, int]:
        """How many requests got each fault."""
        out: dict[str, int] = {}
        for r in list(self.log):
            out[r.fault] = out.get(r.fault, 0) + 1
        return out

    # -- the decision -------------------------------------------------------------------------
    def _applies(self, path: str) -> bool:
        if path.startswith(EXEMPT):
            return False
        return not self.config.paths or path.startswith(tuple(self.config.paths))

    def _decide(self, path: str) -> tuple[int, str]:
        c = self.config
        with self._lock:
            if not self._applies(path):
                return 0, "ok"
            self._count += 1
            n = self._count
            now = time.monotonic()
            if c.outage_after is not None and n >= c.outage_after and self._outage_from is None:
                self._outage_from = now
            if self._outage_from is not None and now - self._outage_from < c.outage_s:
                return n, "outage"
            r = self._rng.random()
        if r < c.error_rate:
            return n, "error"
        if r < c.error_rate + c.reset_rate:
            return n, "reset"
        if r < c.error_rate + c.reset_rate + c.truncate_rate:
            return n, "truncate"
        return n, "ok"

    def _outage_left(self) -> float:
        with self._lock:
            if self._outage_from is None:
                return 0.0
            return self.config.outage_s - (time.monotonic() - self._outage_from)

    # -- the connection -----------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = [tuple(h.split(":", 1)) for h in lines[1:] if ":" in h]
        length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
        body = await reader.readexactly(length) if length else b""
        path = urlsplit(target).path
        n, fault = self._decide(path)
        entry = LoggedRequest(n, time.monotonic(), method, target, fault)
        self.log.append(entry)
        if self.config.latency_s:
            await asyncio.sleep(self.config.latency_s)
        if fault == "outage":
            if self.config.outage_mode == "blackhole":
                # hold the connection, answer nothing, until the outage ends or the client quits
                left = self._outage_left()
                with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                    await asyncio.wait_for(reader.read(), None if math.isinf(left) else left)
            _reset(writer)
            return
        if fault == "reset":
            _reset(writer)
            return
        if fault == "error":
            payload = json.dumps({"error": "unavailable", "message": "flaky link"}).encode()
            writer.write(
                f"HTTP/1.1 {self.config.error_status} Service Unavailable\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            entry.bytes_sent = len(payload)
            return
        response = await self._forward(method, target, headers, body)
        split = response.find(b"\r\n\r\n")
        resp_head, resp_body = response[: split + 4], response[split + 4 :]
        if fault == "truncate" and resp_body:
            cut = resp_body[: max(1, len(resp_body) // 2)]
            writer.write(resp_head + cut)
            await writer.drain()
            entry.bytes_sent = len(cut)
            return  # closed with a FIN: the client gets fewer bytes than Content-Length
        writer.write(resp_head + resp_body)
        await writer.drain()
        entry.bytes_sent = len(resp_body)

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, ...]], body: bytes
    ) -> bytes:
        up_reader, up_writer = await asyncio.open_connection(self._up_host, self._up_port)
        try:
            kept = [
                (k.strip(), v.strip())
                for k, v in headers
                if k.strip().lower() not in ("connection", "keep-alive", "proxy-connection")
            ]
            head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept)
            up_writer.write((head + "Connection: close\r\n\r\n").encode("latin-1") + body)
            await up_writer.drain()
            response = await up_reader.read()  # until the upstream closes
        finally:
            up_writer.close()
        split = response.find(b"\r\n\r\n")
        lines = response[:split].decode("latin-1").split("\r\n")
        lines = [ln for ln in lines if not ln.lower().startswith("connection:")]
        return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode(
            "latin-1"
        ) + response[split + 4 :]


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
