"""HttpClient against a real local HTTP server: retries honour Retry-After, 401 refreshes the
token once, truncated JSON is retried, hard errors name the path but not the query."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.base.http import HttpError, RetryPolicy, TokenAuth
from connectors.base.http_client import HttpClient


class Script:
    """Responses served in order: (status, headers, body)."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.seen: list[tuple[str, dict]] = []


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            script.seen.append((self.path, dict(self.headers)))
            status, headers, body = script.responses.pop(0)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def client(url, **kw):
    sleeps: list[float] = []
    c = HttpClient(url, timeout=5, retry=RetryPolicy(attempts=3), sleep=sleeps.append, **kw)
    return c, sleeps


JSON = {"content-type": "application/json"}


def test_retry_after_is_honoured(server):
    script, url = server
    script.responses += [(429, {"Retry-After": "7"}, ""), (200, JSON, '{"ok": 1}')]
    c, sleeps = client(url)
    assert c.get_json("/x") == {"ok": 1}
    assert sleeps == [7.0]


def test_5xx_backoff_then_give_up_names_path_not_query(server):
    script, url = server
    script.responses += [(503, {}, "")] * 3
    c, sleeps = client(url)
    with pytest.raises(HttpError) as exc:
        c.get_json("/api/v1/penduduk", {"nik": "1608014101900001"})
    assert "/api/v1/penduduk" in str(exc.value) and "1608" not in str(exc.value)
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_truncated_json_is_retried(server):
    script, url = server
    script.responses += [(200, JSON, '{"data": [{"NIK": "1'), (200, JSON, '{"data": []}')]
    c, _ = client(url)
    assert c.get_json("/x") == {"data": []}


def test_token_is_refreshed_once_on_401(server):
    script, url = server
    script.responses += [(401, {}, ""), (200, JSON, "{}")]
    tokens = iter(["t1", "t2"])
    c, _ = client(url, auth=TokenAuth(lambda session: next(tokens)))
    c.get_json("/x")
    assert [h["Authorization"] for _, h in script.seen] == ["Bearer t1", "Bearer t2"]


def test_client_error_is_not_retried(server):
    script, url = server
    script.responses += [(404, {}, "")]
    c, sleeps = client(url)
    with pytest.raises(HttpError, match="HTTP 404"):
        c.get_json("/x")
    assert sleeps == []


def test_pagination_follows_next_links(server):
    script, url = server
    page2 = f"{url}/p?page=2"
    script.responses += [
        (200, JSON, json.dumps({"data": [{"a": 1}], "links": {"next": page2}})),
        (200, JSON, json.dumps({"data": [{"a": 2}], "links": {"next": None}})),
    ]
    c, _ = client(url)
    assert [r for page in c.paginate("/p", {}) for r in page] == [{"a": 1}, {"a": 2}]
