"""The SIAK bearer token travels only to the configured SIAK origin: a pagination ``next`` link
to another server (a compromised or misconfigured gateway) is refused, and that server never
sees a request, let alone the token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.base.contract import ReadResult
from connectors.base.http import HttpError
from connectors.siak import SiakConnector


def _server(routes: dict, seen: list):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            seen.append((self.command, self.path, dict(self.headers)))
            body = json.dumps(routes.get(self.path.split("?")[0], {})).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.mark.parametrize("elsewhere", ["other-port", "other-scheme"])
def test_next_link_to_another_origin_gets_no_token(elsewhere):
    evil_seen: list = []
    evil, evil_url = _server({"/api/v1/penduduk": {"data": [{"NIK": "x"}]}}, evil_seen)
    siak_seen: list = []
    routes: dict = {"/api/v1/auth/token": {"access_token": "tok-123", "expires_in": 3600}}
    siak, siak_url = _server(routes, siak_seen)
    try:
        nxt = (
            f"{evil_url}/api/v1/penduduk?page=2"
            if elsewhere == "other-port"
            else siak_url.replace("http://", "https://") + "/api/v1/penduduk?page=2"
        )
        routes["/api/v1/penduduk"] = {
            "data": [{"NIK": "1", "UPDATED_AT": "2026-01-01T00:00:00Z"}],
            "meta": {"page": 1, "total_pages": 2},
            "links": {"next": nxt},
        }
        conn = SiakConnector(siak_url, "id", "secret")
        batches = conn.read("penduduk", since=None, result=ReadResult())
        assert next(batches).num_rows == 1
        with pytest.raises(HttpError, match="another server") as err:
            next(batches)
        assert "kredensial" in str(err.value) and "tok-123" not in str(err.value)
        assert evil_seen == []  # never contacted, so never given the token
        assert [h.get("Authorization") for m, p, h in siak_seen if m == "GET"] == ["Bearer tok-123"]
    finally:
        evil.shutdown()
        siak.shutdown()
