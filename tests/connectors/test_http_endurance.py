"""A pull that rides out a bad link: retries within a TIME budget, capped exponential backoff
with jitter, Retry-After in both forms, retriable and fatal failures told apart, connect and
read timeouts on every request, and credentials only ever sent to the configured origin.

Real local HTTP servers; a fake clock advanced by the (fake) sleeps measures the budget."""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.base.http import (
    HttpError,
    RetryPolicy,
    SourceUnreachableError,
    TokenAuth,
    retry_after_seconds,
)
from connectors.base.http_client import HttpClient

JSON = {"content-type": "application/json"}


class Script:
    """Responses served in order; the last one repeats. Items: (status, headers, body),
    ("reset",), ("cut", body) or ("slow", seconds, body)."""

    def __init__(self):
        self.responses: list[tuple] = []
        self.seen: list[tuple[str, dict]] = []

    def next(self) -> tuple:
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


def _serve(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            script.seen.append((self.path, dict(self.headers)))
            item = script.next()
            if item[0] == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                self.connection.close()
                return
            if item[0] == "cut":
                body = item[1].encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body) * 2))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if item[0] == "slow":
                time.sleep(item[1])
                item = (200, JSON, item[2])
            status, headers, body = item
            data = body.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def server():
    script = Script()
    httpd, url = _serve(script)
    yield script, url
    httpd.shutdown()
    httpd.server_close()


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def client(url, budget=60.0, **kw):
    t = FakeTime()
    c = HttpClient(
        url,
        timeout=kw.pop("timeout", 5),
        retry=RetryPolicy(budget_seconds=budget, backoff_base=1.0, backoff_max=8.0),
        sleep=t.sleep,
        clock=t.clock,
        agency="Disdukcapil OKU Timur",
        **kw,
    )
    return c, t


def test_outage_shorter_than_the_budget_is_ridden_out(server):
    script, url = server
    script.responses += [(503, {}, "")] * 9 + [(200, JSON, '{"ok": 1}')]
    c, t = client(url, budget=120)
    assert c.get_json("/x") == {"ok": 1}
    assert len(t.sleeps) == 9 and sum(t.sleeps) < 120  # nine tries, not five


def test_backoff_is_exponential_capped_and_jittered(server):
    script, url = server
    script.responses += [(503, {}, "")] * 8 + [(200, JSON, "{}")]
    c, t = client(url, budget=600)
    c.get_json("/x")
    s = t.sleeps
    assert 0.75 <= s[0] <= 1.25 and 1.5 <= s[1] <= 2.5 and 3 <= s[2] <= 5
    assert all(6 <= x <= 10 for x in s[4:])  # capped at 8 s +- 25 %
    assert len(set(s)) == len(s)  # jitter: no two clients retry in lock-step


def test_outage_longer_than_the_budget_fails_with_a_bilingual_message(server):
    script, url = server
    script.responses += [(503, {}, "")]
    c, t = client(url, budget=30)
    c.progress.pages, c.progress.total_pages, c.progress.rows = 29, 64, 29_000
    with pytest.raises(SourceUnreachableError) as err:
        c.get_json("/api/v1/penduduk", {"nik": "1608014101900001"})
    msg = str(err.value)
    assert 30 <= t.now - 1000 <= 30.01  # the budget, not an attempt count
    assert "Disdukcapil OKU Timur unreachable" in msg and "tidak dapat dihubungi" in msg
    assert "29 page(s) of 64" in msg and "29 halaman dari 64" in msg and "29.000 baris" in msg
    assert "/api/v1/penduduk" in msg and "1608" not in msg and "HTTP 503" in msg
    assert err.value.agency == "Disdukcapil OKU Timur" and err.value.progress.pages == 29
    again = pickle.loads(pickle.dumps(err.value))  # e.g. from an Airflow worker process
    assert str(again) == msg and again.progress.total_pages == 64 and again.retriable


def test_retry_after_in_seconds_and_as_http_date(server):
    script, url = server
    when = datetime.now(UTC) + timedelta(seconds=20)
    script.responses += [
        (429, {"Retry-After": "7"}, ""),
        (503, {"Retry-After": format_datetime(when, usegmt=True)}, ""),
        (200, JSON, "{}"),
    ]
    c, t = client(url, budget=120)
    c.get_json("/x")
    assert t.sleeps[0] == 7.0 and 17 <= t.sleeps[1] <= 20.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # past: at once
    assert retry_after_seconds("soon") is None


def test_retry_after_beyond_the_budget_is_cut_to_what_is_left(server):
    script, url = server
    script.responses += [(503, {"Retry-After": "3600"}, "")]
    c, t = client(url, budget=45)
    with pytest.raises(SourceUnreachableError):
        c.get_json("/x")
    assert t.sleeps == [45.0]


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_are_fatal_at_once(server, status):
    script, url = server
    script.responses += [(status, {}, "")]
    c, t = client(url)
    with pytest.raises(HttpError, match=f"HTTP {status}") as err:
        c.get_json("/x")
    assert not isinstance(err.value, SourceUnreachableError)
    assert t.sleeps == [] and len(script.seen) == 1 and "gagal" in str(err.value)


def test_401_after_a_fresh_login_is_fatal(server):
    script, url = server
    script.responses += [(401, {}, "")]
    tokens = iter(["t1", "t2", "t3"])
    c, t = client(url, auth=TokenAuth(lambda session: next(tokens)))
    with pytest.raises(HttpError, match="HTTP 401 even after a fresh login"):
        c.get_json("/x")
    assert [h["Authorization"] for _, h in script.seen] == ["Bearer t1", "Bearer t2"]
    assert t.sleeps == []


def test_login_during_the_outage_is_retried(server):
    script, url = server
    script.responses += [(200, JSON, "{}")]
    answers = iter([requests.ConnectionError("reset"), "tok"])

    def login(session):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    c, t = client(url, auth=TokenAuth(login))
    assert c.get_json("/x") == {}
    assert len(t.sleeps) == 1 and script.seen[0][1]["Authorization"] == "Bearer tok"


def test_resets_and_bodies_cut_off_are_retried(server):
    script, url = server
    body = json.dumps({"data": [{"NIK": "x" * 50}] * 20})
    script.responses += [("reset",), ("cut", body[:300]), (200, JSON, body)]
    c, t = client(url)
    assert len(c.get_json("/x")["data"]) == 20
    assert len(t.sleeps) == 2
    assert c.bytes_received >= len(body) + 300  # the cut-off body was transferred too


def test_read_timeout_is_set_and_retried(server):
    script, url = server
    script.responses += [("slow", 1.5, "{}"), (200, JSON, '{"ok": 1}')]
    c, t = client(url, timeout=0.5)
    started = time.monotonic()
    assert c.get_json("/x") == {"ok": 1}
    assert time.monotonic() - started < 1.4 and len(t.sleeps) == 1


def test_every_request_has_connect_and_read_timeouts_and_asks_for_gzip(server, monkeypatch):
    script, url = server
    script.responses += [(200, JSON, "{}")]
    seen: list = []
    real = requests.Session.request

    def spy(self, method, u, **kw):
        seen.append((kw.get("timeout"), kw.get("headers", {}).get("Accept-Encoding")))
        return real(self, method, u, **kw)

    monkeypatch.setattr(requests.Session, "request", spy)
    c, _ = client(url, timeout=17, connect_timeout=4)
    c.get_json("/x")
    assert seen == [((4, 17), "gzip")]


def test_connection_refused_counts_against_the_budget():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens
    c, t = client(f"http://127.0.0.1:{port}", budget=20)
    with pytest.raises(SourceUnreachableError, match="connection refused"):
        c.get_json("/x")
    assert 20 <= t.now - 1000 < 21


def test_next_link_to_another_origin_is_refused_and_gets_no_token(server):
    script, url = server
    other = Script()
    other.responses += [(200, JSON, json.dumps({"data": [{"a": 2}], "links": {"next": None}}))]
    httpd2, url2 = _serve(other)
    try:
        script.responses += [
            (200, JSON, json.dumps({"data": [{"a": 1}], "links": {"next": f"{url2}/p?page=2"}}))
        ]
        c, _ = client(url, auth=TokenAuth(lambda session: "secret-token"))
        pages = c.paginate("/p", {})
        assert next(pages) == [{"a": 1}]
        with pytest.raises(HttpError, match="another server") as err:
            next(pages)
        assert "server lain" in str(err.value)
        assert other.seen == []  # never contacted
        # and a direct request to another origin never carries the token either
        c.get_json(f"{url2}/p")
        assert "Authorization" not in other.seen[0][1]
        assert script.seen[0][1]["Authorization"] == "Bearer secret-token"
    finally:
        httpd2.shutdown()
        httpd2.server_close()


def test_resume_state_continues_after_the_last_page(server):
    script, url = server
    pages = {
        p: json.dumps(
            {
                "data": [{"p": p}],
                "meta": {"page": p, "total_pages": 4},
                "links": {"next": f"{url}/p?page={p + 1}" if p < 4 else None},
            }
        )
        for p in range(1, 5)
    }
    script.responses += [(200, JSON, pages[1]), (200, JSON, pages[2])]
    c, _ = client(url)
    it = c.pages("/p", {})
    next(it)
    _, state = next(it)
    assert state["next"].endswith("page=3") and state["pages"] == 2
    script.responses[:] = [(200, JSON, pages[3]), (200, JSON, pages[4])]
    c2, _ = client(url)
    rest = list(c2.pages("/p", {}, resume=state))
    assert [r for r, _ in rest] == [[{"p": 3}], [{"p": 4}]]
    assert rest[-1][1]["done"] and c2.progress.pages == 4
    assert [p for p, _ in script.seen[-2:]] == ["/p?page=3", "/p?page=4"]
