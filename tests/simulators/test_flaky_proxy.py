"""The fault-injecting proxy itself: seeded (same faults every run), bounded, loopback only,
and each fault is what a client on a bad link really sees (503, RST, a body cut short, an
outage that ends)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from simpul.simulators.flaky_proxy import FlakyConfig, FlakyProxy


@pytest.fixture(scope="module")
def upstream():
    body = json.dumps({"data": ["x" * 40] * 50}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", len(body)
    httpd.shutdown()


def _outcome(url: str) -> str:
    try:
        r = requests.get(url, timeout=5)
    except requests.exceptions.ChunkedEncodingError:
        return "truncate"
    except requests.ConnectionError:
        return "reset"
    return "ok" if r.status_code == 200 else "error"


def test_faults_are_seeded_and_seen_by_the_client_as_on_a_bad_link(upstream):
    url, size = upstream
    runs = []
    for _ in range(2):
        with FlakyProxy(
            url, FlakyConfig(seed=3, error_rate=0.2, reset_rate=0.2, truncate_rate=0.2)
        ) as p:
            seen = [_outcome(f"{p.url}/api/x?i={i}") for i in range(40)]
            assert seen == [r.fault for r in p.log]  # the client saw exactly what was injected
            assert {"ok", "error", "reset", "truncate"} == set(seen)
            cut = [r.bytes_sent for r in p.log if r.fault == "truncate"]
            assert all(0 < b < size for b in cut)
            runs.append(seen)
    assert runs[0] == runs[1]  # same seed, same faults


def test_timed_outage_ends_and_health_is_exempt(upstream):
    url, _ = upstream
    with FlakyProxy(url, FlakyConfig(outage_after=2, outage_s=1.0)) as p:
        assert _outcome(f"{p.url}/api/a") == "ok"
        assert _outcome(f"{p.url}/api/b") == "reset"  # the outage begins
        assert _outcome(f"{p.url}/health") == "ok"  # not counted, not faulted
        time.sleep(1.1)
        assert _outcome(f"{p.url}/api/c") == "ok"  # and ends
        assert [r.fault for r in p.log] == ["ok", "outage", "ok", "ok"]


def test_blackhole_outage_is_a_read_timeout(upstream):
    url, _ = upstream
    with FlakyProxy(url, FlakyConfig(outage_after=1, outage_s=10, outage_mode="blackhole")) as p:
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{p.url}/api/a", timeout=(1, 0.5))
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "switches",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "reset_rate": 0.6},
        {"latency_s": 120},
        {"outage_mode": "sometimes"},
        {"error_status": 200},
    ],
)
def test_switches_are_bounded(switches):
    with pytest.raises(ValueError):
        FlakyConfig(**switches)


def test_forwards_to_loopback_only():
    with pytest.raises(ValueError, match="loopback only"):
        FlakyProxy("http://10.1.2.3:8080")
    with pytest.raises(ValueError, match="loopback only"):
        FlakyProxy("http://siak.example.go.id")
