"""Local alert receivers (fixtures): a real HTTP webhook and a tiny SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import simpul.orchestration.alerts  # noqa: F401 - plugs the sender exchange alerts go through


@dataclass
class Webhook:
    url: str
    received: list[dict] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """A JSON webhook receiver; SIMPUL_ALERT_WEBHOOK_URL points at it."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.raw.append(body)
            hook.received.append(json.loads(body))
            hook.event.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/simpul"
    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOK_URL", hook.url)
    monkeypatch.delenv("SIMPUL_ALERT_SMTP_HOST", raising=False)
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[dict] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        box: Mailbox = self.server.mailbox  # type: ignore[attr-defined]
        self.reply("220 localhost test SMTP")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline().decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip()
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                box.messages.append({"from": sender, "to": rcpts, "data": b"".join(data)})
                self.reply("250 queued")
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server; the SIMPUL_ALERT_SMTP_* variables point at it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    box = Mailbox(host="127.0.0.1", port=server.server_address[1])
    server.mailbox = box  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SIMPUL_ALERT_SMTP_HOST", box.host)
    monkeypatch.setenv("SIMPUL_ALERT_SMTP_PORT", str(box.port))
    monkeypatch.setenv("SIMPUL_ALERT_SMTP_FROM", "simpul@kecamatan.example")
    monkeypatch.setenv("SIMPUL_ALERT_SMTP_TO", "operator@kabupaten.example, it@kabupaten.example")
    monkeypatch.delenv("SIMPUL_ALERT_WEBHOOK_URL", raising=False)
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
